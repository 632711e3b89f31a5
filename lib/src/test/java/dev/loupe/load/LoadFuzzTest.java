package dev.loupe.load;

import ai.djl.ndarray.NDArray;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import dev.loupe.model.HookedTransformer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Random damage to a saved model's safetensors header and config.json (bit flips, truncations, values of the wrong
 * type, huge numbers), seeded so that every run makes the same cases. Through both {@code load} and
 * {@code fromPretrained} each case must either load the very weights that were saved or fail with Loupe's exception
 * naming the damaged file: no other exception, no hang, no crash.
 */
class LoadFuzzTest {

    private static final long SEED = 16;
    private static final int CASES = 1200;
    private static final long CASE_SECONDS = 10;
    private static final JsonElement[] ODD_VALUES = {
        new JsonPrimitive("x"), new JsonPrimitive(""), new JsonPrimitive(-1), new JsonPrimitive(0), new JsonPrimitive(2.5),
        new JsonPrimitive(1L << 31), new JsonPrimitive(1L << 62), new JsonPrimitive(new BigInteger("9223372036854775808")),
        new JsonPrimitive(1e300), new JsonPrimitive(new BigInteger("1" + "0".repeat(40))), new JsonPrimitive(true),
        JsonNull.INSTANCE, new JsonArray(), new JsonObject()};

    @TempDir
    Path dir;

    @Test
    void damagedHeadersAndConfigsLoadTheSavedWeightsOrFailNamingTheFile() throws Exception {
        HookedTransformer.create(SavedFiles.TINY, 3).save(dir);
        byte[] config = Files.readAllBytes(dir.resolve("config.json"));
        byte[] weights = Files.readAllBytes(dir.resolve("model.safetensors"));
        Map<String, float[]> saved = values(HookedTransformer.load(dir).stateDict());
        Map<String, float[]> processed = values(HookedTransformer.fromPretrained(dir.toString()).stateDict());

        Random random = new Random(SEED);
        Map<String, Integer> outcomes = new TreeMap<>();
        ExecutorService worker = Executors.newSingleThreadExecutor();
        try {
            for (int i = 0; i < CASES; i++) {
                boolean damageConfig = random.nextBoolean();
                byte[] damaged = damageConfig ? damageJson(config, random) : damageHeader(weights, random);
                Files.write(dir.resolve("config.json"), damageConfig ? damaged : config);
                Files.write(dir.resolve("model.safetensors"), damageConfig ? weights : damaged);
                String file = damageConfig ? "config.json" : "model.safetensors";
                String what = "case " + i + " (" + file + ")";
                count(outcomes, "load", outcome(worker, what, file, saved, () -> HookedTransformer.load(dir), false));
                count(outcomes, "fromPretrained", outcome(worker, what, file, processed,
                        () -> HookedTransformer.fromPretrained(dir.toString()), true));
            }
        } finally {
            worker.shutdownNow();
        }
        System.out.println(CASES + " damaged models (seed " + SEED + "): " + outcomes);
        assertEquals(2 * CASES, outcomes.values().stream().mapToInt(Integer::intValue).sum());
    }

    /** Runs one load with a time limit: "loaded" (with the saved weights) or "refused: ExceptionType, file". */
    private static String outcome(ExecutorService worker, String what, String file, Map<String, float[]> expected,
                                  Callable<HookedTransformer> load, boolean wrapped) throws InterruptedException {
        Future<HookedTransformer> run = worker.submit(load);
        try {
            HookedTransformer model = run.get(CASE_SECONDS, TimeUnit.SECONDS);
            Map<String, float[]> got = values(model.stateDict());
            assertEquals(expected.keySet(), got.keySet(), what);
            expected.forEach((name, v) -> assertArrayEquals(v, got.get(name), what + ": " + name));
            return "loaded";
        } catch (TimeoutException e) {
            return fail(what + " did not finish in " + CASE_SECONDS + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable t = e.getCause();
            boolean expectedType = wrapped ? t instanceof ModelLoadException && t.getCause() instanceof IOException
                    : t instanceof IOException;
            if (!expectedType) {
                throw new AssertionError(what + " failed with " + t, t);
            }
            assertTrue(t.getMessage().contains(file), what + ": the message does not name " + file + ": " + t.getMessage());
            Throwable kind = wrapped ? t.getCause() : t;
            return "refused: " + kind.getClass().getSimpleName() + " naming " + file;
        }
    }

    /** A safetensors file with its header damaged in one of several ways. */
    private static byte[] damageHeader(byte[] file, Random random) {
        byte[] header = SavedFiles.header(file);
        return switch (random.nextInt(4)) {
            case 0 -> flipBit(file, 8 + header.length, random); // the length field and the header
            case 1 -> Arrays.copyOf(file, random.nextInt(file.length)); // truncated
            case 2 -> SavedFiles.withHeader(file, damageJson(header, random));
            default -> SavedFiles.withHeader(file, flipBit(header, header.length, random));
        };
    }

    /** JSON bytes with a bit flipped, cut short, or one value (at any depth) replaced, removed or made huge. */
    private static byte[] damageJson(byte[] json, Random random) {
        switch (random.nextInt(4)) {
            case 0:
                return flipBit(json, json.length, random);
            case 1:
                return Arrays.copyOf(json, random.nextInt(json.length));
            default:
                JsonObject o = JsonParser.parseString(new String(json, StandardCharsets.UTF_8)).getAsJsonObject();
                replaceSomething(o, random);
                return o.toString().getBytes(StandardCharsets.UTF_8);
        }
    }

    private static void replaceSomething(JsonElement json, Random random) {
        List<String> keys = new ArrayList<>(json.getAsJsonObject().keySet());
        String key = keys.get(random.nextInt(keys.size()));
        JsonElement value = json.getAsJsonObject().get(key);
        if (value.isJsonObject() && random.nextInt(3) > 0) { // a tensor's entry: damage one of its fields
            replaceSomething(value, random);
        } else if (value.isJsonArray() && value.getAsJsonArray().size() > 0 && random.nextBoolean()) {
            JsonArray a = value.getAsJsonArray();
            a.set(random.nextInt(a.size()), ODD_VALUES[random.nextInt(ODD_VALUES.length)]);
        } else if (random.nextInt(8) == 0) {
            json.getAsJsonObject().remove(key);
        } else {
            json.getAsJsonObject().add(key, ODD_VALUES[random.nextInt(ODD_VALUES.length)]);
        }
    }

    private static byte[] flipBit(byte[] bytes, int within, Random random) {
        byte[] copy = bytes.clone();
        int i = random.nextInt(within);
        copy[i] ^= (byte) (1 << random.nextInt(8));
        return copy;
    }

    private static Map<String, float[]> values(Map<String, NDArray> weights) {
        Map<String, float[]> v = new TreeMap<>();
        weights.forEach((name, a) -> v.put(name, a.toFloatArray()));
        return v;
    }

    private static void count(Map<String, Integer> outcomes, String path, String outcome) {
        outcomes.merge(path + " " + outcome, 1, Integer::sum);
    }
}
