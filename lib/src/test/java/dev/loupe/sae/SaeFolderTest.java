package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.load.ModelFileException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SAELens folders in both cfg.json layouts, every storage type, save and load, and each refusal naming file and field. */
class SaeFolderTest {

    @TempDir
    Path tmp;

    private static final Map<String, Shape> STANDARD = Map.of("W_enc", new Shape(4, 6), "b_enc", new Shape(6),
            "W_dec", new Shape(6, 4), "b_dec", new Shape(4));

    private Path folder(String name, String cfg, byte[] weights) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Files.writeString(dir.resolve("cfg.json"), cfg);
        Files.write(dir.resolve("sae_weights.safetensors"), weights);
        return dir;
    }

    private Path gpt2Folder(String dtype) throws IOException {
        return folder("jb-" + dtype, SaeFiles.flatGpt2JbCfg("blocks.8.hook_resid_pre", 8, 4, 6),
                SaeFiles.safetensors(ordered(STANDARD), dtype));
    }

    private static Map<String, Shape> ordered(Map<String, Shape> shapes) {
        Map<String, Shape> m = new LinkedHashMap<>();
        shapes.keySet().stream().sorted().forEach(k -> m.put(k, shapes.get(k)));
        return m;
    }

    private static void assertWeights(Map<String, Shape> shapes, Sae sae) {
        assertEquals(shapes.keySet(), sae.stateDict().keySet());
        shapes.forEach((name, shape) -> {
            NDArray a = sae.stateDict().get(name);
            assertEquals(shape, a.getShape(), name);
            assertArrayEquals(SaeFiles.values(name, shape), a.toType(DataType.FLOAT32, true).toFloatArray(), name);
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16", "F64"})
    void gpt2SmallResJbsFlatCfgLoadsInEveryStorageType(String dtype) throws IOException {
        Path dir = gpt2Folder(dtype);
        Files.write(dir.resolve("sparsity.safetensors"), SaeFiles.safetensors(Map.of("sparsity", new Shape(6)), "F32"));
        try (Sae sae = Sae.load(dir)) {
            SaeConfig c = sae.config();
            assertEquals(SaeConfig.Architecture.STANDARD, c.architecture());
            assertEquals(SaeConfig.Kind.SAE, c.kind());
            assertEquals("blocks.8.hook_resid_pre", c.hookName());
            assertEquals("gpt2-small", c.modelName());
            assertEquals(4, c.dIn());
            assertEquals(6, c.dSae());
            assertTrue(c.applyBDecToInput(), "the flat layout's default");
            assertEquals(SaeConfig.Normalization.NONE, c.normalization());
            assertEquals(128L, c.metadata().get("context_size"));
            assertEquals("Skylion007/openwebtext", c.metadata().get("dataset_path"));
            assertTrue(c.metadata().containsKey("hook_head_index"));
            assertFalse(c.metadata().containsKey("lr"), "training settings are not metadata");
            assertEquals(DataType.FLOAT32, sae.dataType());
            assertWeights(STANDARD, sae);
            assertArrayEquals(SaeFiles.values("sparsity", new Shape(6)), sae.logSparsity().orElseThrow().toFloatArray());
        }
        try (Sae sae = Sae.load(dir, DataType.FLOAT64)) {
            assertEquals(DataType.FLOAT64, sae.dataType());
            assertWeights(STANDARD, sae);
        }
    }

    @Test
    void theCurrentLayoutsTopKLoadsWithItsMetadata() throws IOException {
        Path dir = folder("topk", SaeFiles.currentTopKCfg("blocks.3.hook_resid_post", 4, 6, 2),
                SaeFiles.safetensors(ordered(STANDARD), "F32"));
        try (Sae sae = Sae.load(dir)) {
            SaeConfig c = sae.config();
            assertEquals(SaeConfig.Architecture.TOPK, c.architecture());
            assertEquals(2, c.k());
            assertTrue(c.rescaleByDecoderNorm());
            assertFalse(c.applyBDecToInput());
            assertEquals("blocks.3.hook_resid_post", c.hookName());
            assertEquals("pythia-70m-deduped", c.modelName());
            assertEquals("6.5.1", c.metadata().get("sae_lens_version"));
            assertEquals(1024L, c.metadata().get("context_size"));
            assertEquals(Map.of(), c.metadata().get("model_from_pretrained_kwargs"));
            assertWeights(STANDARD, sae);
            assertTrue(sae.logSparsity().isEmpty());
        }
    }

    @Test
    void olderTopKSaesNameTheirKAmongTheActivationsArguments() throws IOException {
        String cfg = "{\"d_in\": 4, \"d_sae\": 6, \"hook_name\": \"blocks.12.hook_resid_post\", \"model_name\": \"gemma-2-2b\","
                + " \"activation_fn_str\": \"topk\", \"activation_fn_kwargs\": {\"k\": 3}, \"apply_b_dec_to_input\": true,"
                + " \"normalize_activations\": \"none\", \"dtype\": \"float32\"}";
        try (Sae sae = Sae.load(folder("old-topk", cfg, SaeFiles.safetensors(ordered(STANDARD), "F32")))) {
            assertEquals(SaeConfig.Architecture.TOPK, sae.config().architecture());
            assertEquals(3, sae.config().k());
        }
    }

    @Test
    void batchTopKSavedAsJumpReluAndTranscodersLoad() throws IOException {
        Map<String, Shape> jump = new LinkedHashMap<>(ordered(STANDARD));
        jump.put("threshold", new Shape(6));
        String batch = SaeFiles.currentTopKCfg("blocks.1.hook_resid_post", 4, 6, 2)
                .replace("\"k\": 2, \"rescale_acts_by_decoder_norm\": true, \"architecture\": \"topk\"", "\"architecture\": \"jumprelu\"");
        try (Sae sae = Sae.load(folder("batchtopk", batch, SaeFiles.safetensors(jump, "F32")))) {
            assertEquals(SaeConfig.Architecture.JUMPRELU, sae.config().architecture());
            assertWeights(jump, sae);
        }
        Map<String, Shape> tc = Map.of("W_enc", new Shape(4, 6), "b_enc", new Shape(6), "W_dec", new Shape(6, 5),
                "b_dec", new Shape(5));
        String transcoder = "{\"d_in\": 4, \"d_sae\": 6, \"d_out\": 5, \"dtype\": \"float32\", \"device\": \"cpu\","
                + " \"apply_b_dec_to_input\": false, \"normalize_activations\": \"none\", \"reshape_activations\": \"none\","
                + " \"metadata\": {\"sae_lens_version\": \"6.5.1\", \"model_name\": \"gpt2\", \"hook_name\":"
                + " \"blocks.0.ln2.hook_normalized\", \"hook_name_out\": \"blocks.0.hook_mlp_out\", \"hook_head_index\": null,"
                + " \"hook_head_index_out\": null}, \"architecture\": \"transcoder\"}";
        try (Sae sae = Sae.load(folder("transcoder", transcoder, SaeFiles.safetensors(ordered(tc), "F32")))) {
            assertEquals(SaeConfig.Kind.TRANSCODER, sae.config().kind());
            assertEquals("blocks.0.hook_mlp_out", sae.hookNameOut());
            assertEquals(5, sae.dOut());
            assertWeights(tc, sae);
        }
    }

    @Test
    void saveThenLoadIsBitExactAndSavesTheSameBytesAgain() throws IOException {
        Path dir = gpt2Folder("F32");
        Files.write(dir.resolve("sparsity.safetensors"), SaeFiles.safetensors(Map.of("sparsity", new Shape(6)), "F32"));
        for (DataType type : List.of(DataType.FLOAT32, DataType.FLOAT64)) {
            try (Sae sae = Sae.load(dir, type)) {
                Path once = tmp.resolve("once-" + type);
                sae.save(once);
                try (Sae again = Sae.load(once, type)) {
                    Map<String, Object> metadata = new LinkedHashMap<>(sae.config().metadata());
                    metadata.put("sae_lens_version", "6.0.0"); // marks the file as the current layout
                    assertEquals(sae.config().withMetadata(metadata), again.config());
                    sae.stateDict().forEach((name, a) -> assertArrayEquals(a.toByteArray(),
                            again.stateDict().get(name).toByteArray(), name));
                    assertArrayEquals(sae.logSparsity().orElseThrow().toByteArray(), again.logSparsity().orElseThrow().toByteArray());
                    Path twice = tmp.resolve("twice-" + type);
                    again.save(twice);
                    for (String f : List.of("cfg.json", "sae_weights.safetensors", "sparsity.safetensors")) {
                        assertArrayEquals(Files.readAllBytes(once.resolve(f)), Files.readAllBytes(twice.resolve(f)), f);
                    }
                    again.save(once); // over itself: a folder of an SAE's files is replaced
                }
            }
        }
    }

    @Test
    void savingIntoAFolderWithOtherFilesOrAnArchitectureSaeLensLacksLeavesEverythingAsItWas() throws IOException {
        Path mine = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(mine.resolve("notes.txt"), "keep");
        try (Sae sae = Sae.load(gpt2Folder("F32"))) {
            IOException e = assertThrows(IOException.class, () -> sae.save(mine));
            assertTrue(e.getMessage().contains("[notes.txt]"), e.getMessage());
            assertEquals(List.of(mine.resolve("notes.txt")), list(mine));
            try (Sae topKTranscoder = Sae.fromWeights(SaeConfig.transcoder("a", 4, "b", 4, 6)
                    .withArchitecture(SaeConfig.Architecture.TOPK, 2), sae.stateDict())) {
                assertThrows(IllegalArgumentException.class, () -> topKTranscoder.save(tmp.resolve("none")));
                assertFalse(Files.exists(tmp.resolve("none")));
            }
        }
        assertTrue(list(tmp).stream().noneMatch(p -> p.getFileName().toString().contains("partial")), list(tmp).toString());
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    /** Loads the folder after {@code edit} changes its cfg.json, expecting a refusal that names the file and these words. */
    private void refusedCfg(String edited, String... words) throws IOException {
        Path dir = folder("edited", edited, SaeFiles.safetensors(ordered(STANDARD), "F32"));
        SaeFormatException e = assertThrows(SaeFormatException.class, () -> Sae.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("cfg.json").toString()), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' missing from: " + e.getMessage());
        }
        assertFalse(e.getMessage().contains("\n"));
    }

    private static String jb() {
        return SaeFiles.flatGpt2JbCfg("blocks.8.hook_resid_pre", 8, 4, 6);
    }

    @Test
    void unsupportedArchitecturesAndNormalisationsAreRefusedNamingFieldValueAndChoices() throws IOException {
        String topk = SaeFiles.currentTopKCfg("blocks.3.hook_resid_post", 4, 6, 2);
        refusedCfg(topk.replace("\"architecture\": \"topk\"", "\"architecture\": \"gated\""), "architecture", "'gated'",
                SaeConfig.SAELENS_ARCHITECTURES.toString());
        refusedCfg(topk.replace("\"normalize_activations\": \"none\"", "\"normalize_activations\": \"expected_average_only_in\""),
                "normalize_activations", "expected_average_only_in", "scaling factor");
        refusedCfg(jb().replace("\"d_sae\"", "\"normalize_activations\": true, \"d_sae\""), "normalize_activations",
                "expected_average_only_in");
        refusedCfg(jb().replace("\"d_sae\"", "\"normalize_activations\": \"rms\", \"d_sae\""), "normalize_activations", "\"rms\"");
        refusedCfg(topk.replace(", \"architecture\": \"topk\"", ""), "architecture", "(missing)");
        refusedCfg(jb().replace("\"hook_point_head_index\": null", "\"hook_point_head_index\": 3"), "hook_point_head_index",
                "single head");
        refusedCfg(jb().replace("\"d_sae\"", "\"activation_fn_str\": \"tanh-relu\", \"d_sae\""), "activation_fn_str",
                "tanh-relu");
        refusedCfg(jb().replace("\"d_sae\"", "\"activation_fn_str\": \"topk\", \"d_sae\""), "activation_fn_kwargs.k");
    }

    @Test
    void badSizesAndTypesAreRefusedBeforeAnyWeightIsRead() throws IOException {
        for (String bad : List.of("-4", "0", "\"4\"", "4.5", "NaN", "1e40", "null")) {
            refusedCfg(jb().replace("\"d_in\": 4", "\"d_in\": " + bad), "d_in", "a whole number");
        }
        refusedCfg(jb().replace("\"d_in\": 4", "\"d_in\": 1048576").replace("\"d_sae\": 6", "\"d_sae\": 2147483647"),
                "refused as a corrupt size");
        refusedCfg(jb().replace("\"hook_point\": \"blocks.8.hook_resid_pre\"", "\"hook_point\": 8"), "hook_point",
                "a non-empty string");
        refusedCfg(jb().replace("\"dtype\": \"torch.float32\"", "\"dtype\": \"int8\""), "dtype", "int8");
        refusedCfg("[1, 2]", "a JSON object");
        refusedCfg("{\"d_in\": ", "not JSON");
    }

    /** Loads the folder with these tensors under the gpt2 cfg, expecting a refusal naming the weights file and these words. */
    private <T extends Exception> T refusedWeights(Class<T> type, byte[] weights, String... words) throws IOException {
        Path dir = folder("weights", jb(), weights);
        T e = assertThrows(type, () -> Sae.load(dir));
        assertTrue(e.getMessage().contains(dir.resolve("sae_weights.safetensors").toString()), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' missing from: " + e.getMessage());
        }
        return e;
    }

    @Test
    void weightsThatDisagreeWithCfgJsonAreRefusedNamingTheTensor() throws IOException {
        Map<String, Shape> wide = new LinkedHashMap<>(ordered(STANDARD));
        wide.put("W_enc", new Shape(5, 6));
        refusedWeights(SaeFormatException.class, SaeFiles.safetensors(wide, "F32"), "W_enc", "(4, 6)", "(5, 6)");
        Map<String, Shape> missing = new LinkedHashMap<>(ordered(STANDARD));
        missing.remove("b_dec");
        refusedWeights(SaeFormatException.class, SaeFiles.safetensors(missing, "F32"), "b_dec", "none");
        Map<String, Shape> extra = new LinkedHashMap<>(ordered(STANDARD));
        extra.put("b_gate", new Shape(6));
        refusedWeights(SaeFormatException.class, SaeFiles.safetensors(extra, "F32"), "b_gate", "extra tensor");
        Map<String, Shape> scaled = new LinkedHashMap<>(ordered(STANDARD));
        scaled.put("scaling_factor", new Shape(6));
        refusedWeights(SaeFormatException.class, SaeFiles.safetensors(scaled, "F32"), "scaling_factor", "fine-tuning");
    }

    @Test
    void aScalingFactorOfOnesIsDroppedAsSaeLensDropsIt() throws IOException {
        Map<String, float[]> values = new LinkedHashMap<>();
        ordered(STANDARD).forEach((name, shape) -> values.put(name, SaeFiles.values(name, shape)));
        values.put("scaling_factor", new float[] {1, 1, 1, 1, 1, 1});
        Map<String, Shape> shapes = new LinkedHashMap<>(STANDARD);
        shapes.put("scaling_factor", new Shape(6));
        try (Sae sae = Sae.load(folder("ones", jb(), SaeFiles.safetensors(values, shapes, "F32")))) {
            assertWeights(STANDARD, sae);
        }
    }

    @Test
    void truncatedAndLyingSafetensorsAreRefusedNamingTheFile() throws IOException {
        byte[] good = SaeFiles.safetensors(ordered(STANDARD), "F32");
        refusedWeights(ModelFileException.class, Arrays.copyOf(good, good.length - 10), "ends at byte");
        byte[] lying = SaeFiles.withHeader(good, SaeFiles.header(good).replaceFirst("\\[4,6\\]", "[40,6]"));
        refusedWeights(ModelFileException.class, lying, "W_enc", "needs 960 bytes");
    }

    @Test
    void aFolderWithoutSaeLensFilesSaysWhatItExpected() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("npz"));
        Files.write(dir.resolve("params.npz"), new byte[0]);
        IOException e = assertThrows(IOException.class, () -> Sae.load(dir));
        assertTrue(e.getMessage().contains("cfg.json") && e.getMessage().contains("Gemma Scope"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Sae.load(dir, DataType.FLOAT16));
    }
}
