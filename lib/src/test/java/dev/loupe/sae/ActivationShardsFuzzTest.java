package dev.loupe.sae;

import dev.loupe.load.ModelFileException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Harvested shards and their index damaged at random (bits flipped, the file cut short, a number in the index replaced
 * by an odd value), seeded so every run makes the same cases. Opening the store and serving a batch must either work or
 * fail with a {@link ModelFileException} (or an IOException) naming the damaged file: no other exception, and never a
 * batch of another size than asked.
 */
class ActivationShardsFuzzTest {

    private static final long SEED = 20;
    private static final int CASES = 400;
    private static final String HOOK = "blocks.1.hook_resid_pre";
    private static final String[] ODD = {"-1", "0", "1", "3.5", "1e300", "NaN", "\"x\"", "null", "true", "[]", "{}",
        "2147483648", "99999999999999999999"};
    private static final Pattern NUMBER = Pattern.compile("-?\\d+");

    @TempDir
    Path dir;

    @Test
    void damagedShardsAndIndexServeOrFailNamingTheFile() throws IOException {
        var model = FeatureActivationsTest.tinyModel();
        List<int[]> windows = FeatureActivationsTest.windows(6);
        long[] docs = new long[windows.size()];
        int[] starts = new int[windows.size()];
        ActivationShards.Shard shard = ActivationShards.harvest(model, List.of(HOOK), windows, docs, starts, true, 2);
        ActivationShards.write(dir.resolve("s.safetensors"), shard);
        ActivationShards.writeIndex(dir, new ActivationShards.Index("tiny", 12, Map.of(HOOK, shard.width(HOOK)),
                List.of(new ActivationShards.Entry("s.safetensors", shard.tokens()))));
        byte[] shardBytes = Files.readAllBytes(dir.resolve("s.safetensors"));
        byte[] indexBytes = Files.readAllBytes(dir.resolve(ActivationShards.INDEX));
        // A position flipped to 0 reads as a window's start and leaves one more row out, as a flipped activation
        // reads as another value: damage no check can tell from data. Batches a few rows short of all leave room.
        int rows = shard.tokens() - windows.size() - 8;
        assertEquals(rows, serve(rows), "the undamaged files serve a batch");

        Random random = new Random(SEED);
        int served = 0;
        int refused = 0;
        for (int c = 0; c < CASES; c++) {
            boolean damageIndex = random.nextBoolean();
            String damaged = damageIndex ? ActivationShards.INDEX : "s.safetensors";
            byte[] bytes = damageIndex ? damageJson(indexBytes, random) : damage(shardBytes, random);
            Files.write(dir.resolve(ActivationShards.INDEX), damageIndex ? bytes : indexBytes);
            Files.write(dir.resolve("s.safetensors"), damageIndex ? shardBytes : bytes);
            String what = "case " + c + ", " + damaged;
            try {
                assertEquals(rows, serve(rows), what + ": a batch of the size asked");
                served++;
            } catch (ModelFileException e) {
                assertTrue(e.getMessage().contains(damaged), what + ": " + e.getMessage());
                refused++;
            } catch (UncheckedIOException e) {
                assertTrue(e.getCause().getMessage().contains(damaged), what + ": " + e.getCause().getMessage());
                refused++;
            } catch (IOException e) {
                assertTrue(e.getMessage().contains(damaged), what + ": " + e.getMessage());
                refused++;
            } catch (IllegalArgumentException e) {
                // the index names another hook point, or no shards: the store says what it holds
                assertTrue(damageIndex && e.getMessage().contains(dir.toString()), what + ": " + e.getMessage());
                refused++;
            } catch (RuntimeException e) {
                fail(what + ": " + e, e);
            }
        }
        assertTrue(served > 0 && refused > CASES / 4, served + " served, " + refused + " refused");
    }

    private int serve(int rows) throws IOException {
        return (int) ActivationStore.fromShards(dir, HOOK).batchSize(rows).windowsPerRefill(1).batch(0).input().getShape().get(0);
    }

    /** Bits flipped, a byte set to an odd value, or the file cut short. */
    private static byte[] damage(byte[] bytes, Random random) {
        byte[] out = bytes.clone();
        switch (random.nextInt(3)) {
            case 0 -> {
                for (int i = 1 + random.nextInt(4); i > 0; i--) {
                    out[random.nextInt(Math.min(out.length, 400))] ^= (byte) (1 << random.nextInt(8));
                }
            }
            case 1 -> out[random.nextInt(out.length)] = (byte) new int[] {0, 0x7f, 0x80, 0xff, '{', '"'}[random.nextInt(6)];
            default -> out = Arrays.copyOf(out, random.nextInt(out.length));
        }
        return out;
    }

    /** A number in the JSON replaced by an odd value, or the bytes damaged as a shard's are. */
    private static byte[] damageJson(byte[] bytes, Random random) {
        String json = new String(bytes, StandardCharsets.UTF_8);
        Matcher m = NUMBER.matcher(json);
        List<int[]> spans = new java.util.ArrayList<>();
        while (m.find()) {
            spans.add(new int[] {m.start(), m.end()});
        }
        if (spans.isEmpty() || random.nextInt(3) == 0) {
            return damage(bytes, random);
        }
        int[] s = spans.get(random.nextInt(spans.size()));
        return (json.substring(0, s[0]) + ODD[random.nextInt(ODD.length)] + json.substring(s[1])).getBytes(StandardCharsets.UTF_8);
    }
}
