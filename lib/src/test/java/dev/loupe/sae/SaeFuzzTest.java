package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Random damage (bit flips, truncations, bytes replaced by odd values) to cfg.json, the safetensors header and a
 * numpy archive, seeded so every run makes the same cases. Each case must load or fail with {@link SaeFormatException}
 * or an IOException whose message names the damaged file: no other exception, no hang, no crash.
 */
class SaeFuzzTest {

    private static final long SEED = 35;
    private static final int CASES = 600;
    private static final long CASE_SECONDS = 10;
    private static final String[] ODD = {"-1", "0", "2.5", "1e300", "NaN", "\"x\"", "null", "true", "[]", "{}",
        "2147483648", "99999999999999999999", "\"gated\"", "\"expected_average_only_in\""};

    @TempDir
    Path dir;

    @Test
    void damagedFilesLoadOrFailNamingTheFile() throws Exception {
        Map<String, Shape> jump = new LinkedHashMap<>();
        jump.put("W_dec", new Shape(6, 4));
        jump.put("W_enc", new Shape(4, 6));
        jump.put("b_dec", new Shape(4));
        jump.put("b_enc", new Shape(6));
        jump.put("threshold", new Shape(6));
        byte[] cfg = SaeFiles.currentTopKCfg("blocks.1.hook_resid_post", 4, 6, 2).replace("\"topk\"", "\"jumprelu\"")
                .getBytes(StandardCharsets.UTF_8);
        byte[] weights = SaeFiles.safetensors(jump, "F32");
        byte[] npz = SaeFiles.gemmaScopeNpz(3, 5, false);
        byte[] npzDeflated = SaeFiles.gemmaScopeNpz(3, 5, true);
        Path sae = Files.createDirectories(dir.resolve("sae"));

        Random random = new Random(SEED);
        Map<String, Integer> outcomes = new TreeMap<>();
        ExecutorService worker = Executors.newSingleThreadExecutor();
        try {
            for (int i = 0; i < CASES; i++) {
                int target = random.nextInt(4);
                Path file;
                Callable<AutoCloseable> load;
                if (target < 2) {
                    boolean damageCfg = target == 0;
                    Files.write(sae.resolve("cfg.json"), damageCfg ? damageJson(cfg, random) : cfg);
                    Files.write(sae.resolve("sae_weights.safetensors"), damageCfg ? weights : damageHeader(weights, random));
                    file = sae.resolve(damageCfg ? "cfg.json" : "sae_weights.safetensors");
                    load = () -> Sae.load(sae);
                } else {
                    file = dir.resolve("params.npz");
                    Files.write(file, damageBytes(target == 2 ? npz : npzDeflated, random));
                    load = () -> {
                        Map<String, NDArray> arrays = NumpyArchive.read(file);
                        return () -> arrays.values().forEach(NDArray::close);
                    };
                }
                outcomes.merge(outcome(worker, "case " + i, file, load), 1, Integer::sum);
            }
        } finally {
            worker.shutdownNow();
        }
        System.out.println(CASES + " damaged SAE files (seed " + SEED + "): " + outcomes);
        assertEquals(CASES, outcomes.values().stream().mapToInt(Integer::intValue).sum());
        assertTrue(outcomes.keySet().stream().anyMatch(k -> k.startsWith("refused")), outcomes.toString());
    }

    private static String outcome(ExecutorService worker, String what, Path file, Callable<AutoCloseable> load)
            throws Exception {
        Future<AutoCloseable> run = worker.submit(load);
        try {
            run.get(CASE_SECONDS, TimeUnit.SECONDS).close();
            return "loaded " + file.getFileName();
        } catch (TimeoutException e) {
            return fail(what + " did not finish in " + CASE_SECONDS + " s");
        } catch (ExecutionException e) {
            Throwable t = e.getCause();
            if (!(t instanceof SaeFormatException) && !(t instanceof IOException)) {
                throw new AssertionError(what + " (" + file.getFileName() + ") failed with " + t, t);
            }
            assertTrue(t.getMessage() != null && t.getMessage().contains(file.toString()),
                    what + ": the message does not name " + file + ": " + t.getMessage());
            return "refused " + file.getFileName() + ": " + t.getClass().getSimpleName();
        }
    }

    private static byte[] damageHeader(byte[] file, Random random) {
        String header = SaeFiles.header(file);
        return switch (random.nextInt(3)) {
            case 0 -> Arrays.copyOf(file, random.nextInt(file.length));
            case 1 -> SaeFiles.withHeader(file, new String(damageJson(header.getBytes(StandardCharsets.UTF_8), random),
                    StandardCharsets.UTF_8));
            default -> damageBytes(file, random);
        };
    }

    /** JSON with a bit flipped, cut short, or one number, string or literal replaced by an odd value. */
    private static byte[] damageJson(byte[] json, Random random) {
        String text = new String(json, StandardCharsets.UTF_8);
        return switch (random.nextInt(3)) {
            case 0 -> damageBytes(json, random);
            case 1 -> Arrays.copyOf(json, random.nextInt(json.length));
            default -> {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile(
                        ":\\s*(\"[^\"]*\"|-?[0-9.eE+]+|true|false|null|\\[[^\\]]*\\])").matcher(text);
                int count = 0;
                while (m.find()) {
                    count++;
                }
                m.reset();
                int pick = random.nextInt(Math.max(1, count));
                for (int k = 0; k <= pick && m.find(); k++) {
                    if (k == pick) {
                        text = text.substring(0, m.start(1)) + ODD[random.nextInt(ODD.length)] + text.substring(m.end(1));
                    }
                }
                yield text.getBytes(StandardCharsets.UTF_8);
            }
        };
    }

    /** A few bits flipped, or a cut, anywhere. */
    private static byte[] damageBytes(byte[] bytes, Random random) {
        if (random.nextInt(4) == 0) {
            return Arrays.copyOf(bytes, random.nextInt(bytes.length));
        }
        byte[] copy = bytes.clone();
        for (int n = 1 + random.nextInt(3); n > 0; n--) {
            copy[random.nextInt(copy.length)] ^= (byte) (1 << random.nextInt(8));
        }
        return copy;
    }
}
