package dev.loupe.load;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A saved model whose files are wrong fails naming the file and what is wrong, never with a bare runtime error. */
class LoadErrorsTest {

    @TempDir
    Path dir;

    private final ModelConfig cfg = SavedFiles.TINY;

    @BeforeEach
    void save() throws IOException {
        HookedTransformer.create(cfg, 5).save(dir);
    }

    @Test
    void aFloatWeightWhoseHeaderSaysI32IsRefusedNamingFileAndTensor() throws IOException {
        SavedFiles.editHeader(dir, h -> h.getAsJsonObject("blocks.0.attn.W_Q").addProperty("dtype", "I32"));
        String m = refusedByBoth();
        assertTrue(m.contains("model.safetensors") && m.contains("blocks.0.attn.W_Q") && m.contains("INT32")
                && m.contains("floating point"), m);
    }

    @Test
    void aBillionLayersFailsAtOnceNamingTheField() throws IOException {
        SavedFiles.editConfig(dir, c -> c.addProperty("n_layers", 1_000_000_000));
        String m = assertTimeoutPreemptively(Duration.ofSeconds(20), this::refusedByBoth);
        assertTrue(m.contains("n_layers is 1000000000") && m.contains("2 layers") && m.contains("config.json"), m);
    }

    @Test
    void malformedHeaderEntriesNameTheFileTheTensorAndWhatWasExpected() throws IOException {
        byte[] original = Files.readAllBytes(dir.resolve("model.safetensors"));
        assertHeaderRefused(original, e -> e.add("data_offsets", array(0)), "data_offsets [0]", "array of 2 whole numbers");
        assertHeaderRefused(original, e -> e.addProperty("data_offsets", "x"), "data_offsets \"x\"", "array of 2 whole numbers");
        assertHeaderRefused(original, e -> e.add("shape", array(1L << 62)), "shape [4611686018427387904]",
                "more bytes than any file holds");
        assertHeaderRefused(original, e -> e.add("shape", array(-3)), "shape [-3]", "whole numbers of at least 0");
        assertHeaderRefused(original, e -> e.addProperty("dtype", 7), "dtype 7", "F32");
    }

    private void assertHeaderRefused(byte[] original, Consumer<JsonObject> edit, String... expected) throws IOException {
        Files.write(dir.resolve("model.safetensors"), original);
        SavedFiles.editHeader(dir, h -> edit.accept(h.getAsJsonObject("embed.W_E")));
        String m = refusedByBoth();
        assertTrue(m.contains("model.safetensors") && m.contains("embed.W_E"), m);
        for (String e : expected) {
            assertTrue(m.contains(e), "expected '" + e + "' in: " + m);
        }
    }

    @Test
    void configFieldsOfTheWrongTypeOrSizeAreNamedWithWhatCame() throws IOException {
        assertConfigRefused(c -> c.add("d_vocab", new JsonPrimitive(new BigInteger("1000000000000"))), "d_vocab", "1000000000000");
        assertConfigRefused(c -> c.addProperty("n_ctx", 1L << 31), "n_ctx", "2147483648");
        assertConfigRefused(c -> c.addProperty("n_layers", "two"), "n_layers", "\"two\"");
        assertConfigRefused(c -> c.addProperty("n_layers", 2.5), "n_layers", "2.5");
        assertConfigRefused(c -> c.addProperty("eps", "small"), "eps", "\"small\"");
        assertConfigRefused(c -> c.addProperty("attn_only", 1), "attn_only", "1");
        assertConfigRefused(c -> c.addProperty("d_head", 0), "d_head", "0");
        Files.writeString(dir.resolve("config.json"), "");
        String m = refusedByBoth();
        assertTrue(m.contains("config.json") && m.contains("empty"), m);
    }

    private void assertConfigRefused(Consumer<JsonObject> edit, String field, String value) throws IOException {
        HookedTransformer.create(cfg, 5).save(dir);
        SavedFiles.editConfig(dir, edit);
        String m = refusedByBoth();
        assertTrue(m.contains("config.json") && m.contains(field) && m.contains(value), m);
    }

    @Test
    void aMissingTensorIsNamedByFromPretrainedAsByLoad() throws IOException {
        SavedFiles.editHeader(dir, h -> h.remove("blocks.1.ln1.b"));
        String m = refusedByBoth();
        assertTrue(m.contains("blocks.1.ln1.b") && m.contains("missing") && m.contains("model.safetensors"), m);
    }

    @Test
    void aShardIndexNamingAFileOutsideTheFolderIsRefused() throws IOException {
        Path model = dir.resolve("inner/model");
        Files.createDirectories(model);
        Files.move(dir.resolve("config.json"), model.resolve("config.json"));
        Files.move(dir.resolve("model.safetensors"), dir.resolve("other.safetensors"));
        for (String shard : new String[] {"../../other.safetensors", dir.resolve("other.safetensors").toString()}) {
            JsonObject map = new JsonObject();
            map.addProperty("embed.W_E", shard);
            JsonObject index = new JsonObject();
            index.add("weight_map", map);
            Files.writeString(model.resolve("model.safetensors.index.json"), index.toString());
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> HookedTransformer.fromPretrained(model.toString()));
            assertTrue(e.getMessage().contains(shard) && e.getMessage().contains("model.safetensors.index.json"), e.getMessage());
        }
    }

    @Test
    void savedFilesHaveTheUsualPermissionsOfNewFiles() throws IOException {
        Path plain = dir.resolve("plain");
        try (OutputStream out = Files.newOutputStream(plain)) {
            out.write(1);
        }
        String usual = PosixFilePermissions.toString(Files.getPosixFilePermissions(plain));
        for (String file : new String[] {"config.json", "model.safetensors"}) {
            assertEquals(usual, PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(file))), file);
        }
    }

    /** The message of the failure, the same kind of failure from load and from fromPretrained. */
    private String refusedByBoth() {
        ModelFileException e = assertThrows(ModelFileException.class, () -> HookedTransformer.load(dir));
        ModelLoadException p = assertThrows(ModelLoadException.class, () -> HookedTransformer.fromPretrained(dir.toString()));
        assertTrue(p.getCause() instanceof ModelFileException, "fromPretrained: " + p.getCause());
        return e.getMessage() + "\n" + p.getMessage();
    }

    private static JsonArray array(long... values) {
        JsonArray a = new JsonArray();
        for (long v : values) {
            a.add(v);
        }
        return a;
    }
}
