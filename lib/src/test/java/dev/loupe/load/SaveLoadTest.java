package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SaveLoadTest {

    @TempDir
    Path dir;

    private final ModelConfig cfg = ModelConfig.builder().modelName("tiny").nLayers(2).dModel(24).nHeads(3)
            .dMlp(40).dVocab(17).nCtx(8).build();

    @Test
    void aSavedModelLoadsWithIdenticalLogitsAndLeavesNoTemporaryFiles() throws IOException {
        HookedTransformer model = HookedTransformer.create(cfg, 7);
        NDArray tokens = Tensors.tokens(1, 5, 16, 0, 3);
        model.save(dir);
        try (var files = Files.list(dir)) {
            assertEquals(List.of("config.json", "model.safetensors"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        HookedTransformer loaded = HookedTransformer.load(dir);
        assertEquals(cfg, loaded.config());
        assertArrayEquals(model.forward(tokens).toFloatArray(), loaded.forward(tokens).toFloatArray());
    }

    @Test
    void bfloat16StorageIsRefusedBeforeAnythingIsWritten() {
        HookedTransformer model = HookedTransformer.create(cfg, 7);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.save(dir, DataType.BFLOAT16));
        assertTrue(e.getMessage().contains("FLOAT16") && e.getMessage().contains("bfloat16"), e.getMessage());
        assertFalse(java.nio.file.Files.exists(dir.resolve("model.safetensors")));
    }

    @Test
    void weightsCanBeStoredInHalfPrecisionAndLoadRoundedInFloat32() throws IOException {
        HookedTransformer model = HookedTransformer.create(cfg, 7);
        model.save(dir, DataType.FLOAT16);
        assertEquals(DataType.FLOAT16, Safetensors.read(dir.resolve("model.safetensors")).get("blocks.1.attn.W_Q").getDataType());
        HookedTransformer loaded = HookedTransformer.load(dir);
        assertEquals(DataType.FLOAT32, loaded.W_Q(1).getDataType());
        float[] original = model.W_Q(1).toFloatArray();
        float[] rounded = loaded.W_Q(1).toFloatArray();
        for (int i = 0; i < original.length; i++) {
            // float16 keeps 11 significant bits: within 2^-11 relative (and subnormals near 0)
            assertEquals(original[i], rounded[i], Math.abs(original[i]) / 2048 + 1e-7, "entry " + i);
        }
        assertEquals(DataType.FLOAT32, model.W_Q(1).getDataType(), "the saved model is unchanged");
    }

    @Test
    void theSameSeedGivesTheSameWeights() {
        NDArray a = HookedTransformer.create(cfg, 3).W_Q(1);
        NDArray b = HookedTransformer.create(cfg, 3).W_Q(1);
        NDArray c = HookedTransformer.create(cfg, 4).W_Q(1);
        assertArrayEquals(HookedTransformer.create(cfg.toBuilder().seed(4).build()).W_Q(1).toFloatArray(), c.toFloatArray());
        assertArrayEquals(a.toFloatArray(), b.toFloatArray());
        assertTrue(!Arrays.equals(a.toFloatArray(), c.toFloatArray()));
    }

    @Test
    void safetensorsWrittenByHandAreReadByOffsetWithEachDtype() throws IOException {
        // Two tensors written out of name order, with their own offsets: F64 [2] then I64 [1].
        String header = "{\"b\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[16,24]},\"__metadata__\":{\"format\":\"pt\"}}";
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putDouble(1.5).putDouble(-2.25).putLong(42);
        Path file = write(header, data.array());
        Map<String, NDArray> t = Safetensors.read(file);
        assertArrayEquals(new double[] {1.5, -2.25}, t.get("b").toDoubleArray());
        assertEquals(DataType.INT64, t.get("a").getDataType());
        assertEquals(42L, t.get("a").getLong());
    }

    @Test
    void halfPrecisionTensorsAreRead() throws IOException {
        // Hand-encoded: F16 1.0 = 0x3C00, -2.5 = 0xC100; BF16 1.0 = 0x3F80, -2.5 = 0xC020 (little-endian bytes).
        String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
        byte[] data = {0x00, 0x3C, 0x00, (byte) 0xC1, (byte) 0x80, 0x3F, 0x20, (byte) 0xC0};
        Map<String, NDArray> t = Safetensors.read(write(header, data));
        assertEquals(DataType.FLOAT16, t.get("h").getDataType());
        assertEquals(DataType.FLOAT32, t.get("b").getDataType()); // widened on read
        assertArrayEquals(new float[] {1f, -2.5f}, t.get("h").toType(DataType.FLOAT32, false).toFloatArray());
        assertArrayEquals(new float[] {1f, -2.5f}, t.get("b").toType(DataType.FLOAT32, false).toFloatArray());
    }

    @Test
    void truncatedAndCorruptFilesFailWithTheFileNameAndWhatIsWrong() throws IOException {
        HookedTransformer.create(cfg, 1).save(dir);
        Path weights = dir.resolve("model.safetensors");
        byte[] whole = Files.readAllBytes(weights);

        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, Arrays.copyOf(whole, whole.length - 100));
        IOException e = assertThrows(IOException.class, () -> Safetensors.read(truncated));
        assertTrue(e.getMessage().contains("truncated.safetensors") && e.getMessage().contains("truncated"), e.getMessage());

        Path garbage = dir.resolve("garbage.safetensors");
        Files.write(garbage, "this is not a safetensors file at all".getBytes(StandardCharsets.UTF_8));
        e = assertThrows(IOException.class, () -> Safetensors.read(garbage));
        assertTrue(e.getMessage().contains("garbage.safetensors") && e.getMessage().contains("header length"), e.getMessage());

        Path badJson = write("{\"x\": [1, 2", new byte[0]);
        e = assertThrows(IOException.class, () -> Safetensors.read(badJson));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());

        Path wrongSize = write("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]);
        e = assertThrows(IOException.class, () -> Safetensors.read(wrongSize));
        assertTrue(e.getMessage().contains("'x'") && e.getMessage().contains("needs 12 bytes"), e.getMessage());

        Path tooShort = dir.resolve("short.safetensors");
        Files.write(tooShort, new byte[3]);
        assertThrows(IOException.class, () -> Safetensors.read(tooShort));
    }

    @Test
    void weightsThatDoNotFitTheConfigAreNamedWithBothShapes() throws IOException {
        HookedTransformer.create(cfg, 1).save(dir);
        Map<String, NDArray> weights = Safetensors.read(dir.resolve("model.safetensors"));
        ModelConfig wider = cfg.toBuilder().dModel(30).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HookedTransformer.fromStateDict(wider, weights));
        assertTrue(e.getMessage().contains("embed.W_E has shape (17, 24), expected (17, 30)"), e.getMessage());
        weights.remove("blocks.1.attn.W_O");
        e = assertThrows(IllegalArgumentException.class, () -> HookedTransformer.fromStateDict(cfg, weights));
        assertTrue(e.getMessage().contains("missing blocks.1.attn.W_O"), e.getMessage());
    }

    @Test
    void theHeaderListsEachTensorsFieldsInSafetensorsOrderSoThatSavesAreByteForByteTheSame() throws IOException {
        HookedTransformer.create(cfg, 1).save(dir);
        String header = new String(SavedFiles.header(Files.readAllBytes(dir.resolve("model.safetensors"))), StandardCharsets.UTF_8);
        // 17 × 24 float32 = 1,632 bytes
        assertTrue(header.startsWith("{\"embed.W_E\":{\"dtype\":\"F32\",\"shape\":[17,24],\"data_offsets\":[0,1632]},"), header);
    }

    @Test
    void aSaveThatFailsMidwayLeavesThePreviousFilesWholeAndNothingElse() throws IOException {
        HookedTransformer.create(cfg, 1).save(dir);
        byte[] config = Files.readAllBytes(dir.resolve("config.json"));
        byte[] weights = Files.readAllBytes(dir.resolve("model.safetensors"));
        HookedTransformer other = HookedTransformer.create(cfg.toBuilder().modelName("other").build(), 2);
        other.W_O(1).close(); // writing fails when it reaches this tensor, half-way through the file
        assertThrows(IllegalStateException.class, () -> other.save(dir));
        try (var files = Files.list(dir)) {
            assertEquals(List.of("config.json", "model.safetensors"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertArrayEquals(config, Files.readAllBytes(dir.resolve("config.json")));
        assertArrayEquals(weights, Files.readAllBytes(dir.resolve("model.safetensors")));
    }

    @Test
    void aMissingFileIsNamed() {
        IOException e = assertThrows(IOException.class, () -> HookedTransformer.load(dir));
        assertTrue(e.getMessage().contains("config.json is missing"), e.getMessage());
    }

    private Path write(String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path file = Files.createTempFile(dir, "hand", ".safetensors");
        Files.write(file, b.array());
        return file;
    }
}
