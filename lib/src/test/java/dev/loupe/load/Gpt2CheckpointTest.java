package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.ReferenceCase;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.model.Pretrained;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPT-2 checkpoints in Hugging Face's layout, written here from the numpy reference's weights (the gpt2_like
 * case), loaded as a download would be, and compared with the reference's logits.
 */
class Gpt2CheckpointTest {

    static final double TOL = 5e-5; // as ReferenceForwardTest: float32 against the float64 reference

    @TempDir
    Path tmp;

    private final ReferenceCase ref = ReferenceCase.load("gpt2_like");
    private final Map<String, NDArray> tl = ref.model(DataType.FLOAT32).stateDict();

    /**
     * Hugging Face's GPT-2 layout: Conv1D weights [in, out], Q, K and V fused in c_attn, the causal-mask buffers,
     * an untied lm_head [vocab, d] (tie_word_embeddings false) since the reference's W_U is its own matrix.
     */
    static Map<String, NDArray> hfWeights(Map<String, NDArray> tl, ModelConfig c, String prefix, boolean withLmHead) {
        int d = c.dModel();
        Map<String, NDArray> hf = new LinkedHashMap<>();
        hf.put(prefix + "wte.weight", tl.get("embed.W_E"));
        hf.put(prefix + "wpe.weight", tl.get("pos_embed.W_pos"));
        for (int l = 0; l < c.nLayers(); l++) {
            String h = prefix + "h." + l + ".";
            String b = "blocks." + l + ".";
            hf.put(h + "ln_1.weight", tl.get(b + "ln1.w"));
            hf.put(h + "ln_1.bias", tl.get(b + "ln1.b"));
            NDList w = new NDList();
            NDList bias = new NDList();
            for (String x : List.of("Q", "K", "V")) {
                w.add(tl.get(b + "attn.W_" + x).transpose(1, 0, 2).reshape(d, d));
                bias.add(tl.get(b + "attn.b_" + x).reshape(d));
            }
            hf.put(h + "attn.c_attn.weight", NDArrays.concat(w, 1));
            hf.put(h + "attn.c_attn.bias", NDArrays.concat(bias, 0));
            hf.put(h + "attn.c_proj.weight", tl.get(b + "attn.W_O").reshape(d, d));
            hf.put(h + "attn.c_proj.bias", tl.get(b + "attn.b_O"));
            hf.put(h + "attn.bias", tl.get("embed.W_E").getManager().ones(new Shape(1, 1, c.nCtx(), c.nCtx())));
            hf.put(h + "attn.masked_bias", tl.get("embed.W_E").getManager().create(-1e4f));
            hf.put(h + "ln_2.weight", tl.get(b + "ln2.w"));
            hf.put(h + "ln_2.bias", tl.get(b + "ln2.b"));
            hf.put(h + "mlp.c_fc.weight", tl.get(b + "mlp.W_in"));
            hf.put(h + "mlp.c_fc.bias", tl.get(b + "mlp.b_in"));
            hf.put(h + "mlp.c_proj.weight", tl.get(b + "mlp.W_out"));
            hf.put(h + "mlp.c_proj.bias", tl.get(b + "mlp.b_out"));
        }
        hf.put(prefix + "ln_f.weight", tl.get("ln_final.w"));
        hf.put(prefix + "ln_f.bias", tl.get("ln_final.b"));
        if (withLmHead) {
            hf.put("lm_head.weight", tl.get("unembed.W_U").transpose());
        }
        return hf;
    }

    static String hfConfig(ModelConfig c, boolean tied) {
        return "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"vocab_size\": " + c.dVocab()
                + ", \"n_positions\": " + c.nCtx() + ", \"n_embd\": " + c.dModel() + ", \"n_layer\": " + c.nLayers()
                + ", \"n_head\": " + c.nHeads() + ", \"n_inner\": null, \"activation_function\": \"gelu_new\","
                + " \"layer_norm_epsilon\": 1e-05, \"tie_word_embeddings\": " + tied + "}";
    }

    /** A snapshot folder in the hub cache layout: models--org--name/snapshots/<commit>/. */
    private Path snapshot(String repo, Map<String, NDArray> weights, String config) throws IOException {
        Path dir = tmp.resolve("hub/models--" + repo.replace("/", "--") + "/snapshots/0123456789abcdef0123456789abcdef01234567");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config);
        Safetensors.write(dir.resolve("model.safetensors"), weights);
        return dir;
    }

    /** The checkpoint has no unembedding bias; the reference's b_U is its only difference. */
    private NDArray expectedLogits() {
        return ref.expected().get("logits").sub(tl.get("unembed.b_U").toType(DataType.FLOAT64, false));
    }

    @Test
    void bothKeyPrefixesLoadUnprocessedToTheReferenceLogits() throws IOException {
        for (String prefix : List.of("", "transformer.")) {
            Path dir = snapshot("test/gpt2-" + prefix.length(), hfWeights(tl, ref.config(), prefix, true), hfConfig(ref.config(), false));
            HookedTransformer model = Pretrained.loadFolder("tiny-gpt2", dir, LoadOptions.noProcessing());
            assertEquals(ModelConfig.Normalization.LN, model.config().normalization());
            assertClose(expectedLogits(), model.forward(ref.tokens()), TOL, TOL, "logits, prefix '" + prefix + "'");
        }
    }

    @Test
    void processingLeavesLogProbabilitiesUnchanged() throws IOException {
        Path dir = snapshot("test/gpt2", hfWeights(tl, ref.config(), "transformer.", true), hfConfig(ref.config(), false));
        HookedTransformer raw = Pretrained.loadFolder("tiny-gpt2", dir, LoadOptions.noProcessing());
        NDArray expected = raw.forward(ref.tokens()).logSoftmax(-1);
        for (LoadOptions options : List.of(LoadOptions.defaults(), LoadOptions.noProcessing().foldLn(true),
                LoadOptions.noProcessing().centerWritingWeights(true), LoadOptions.noProcessing().centerUnembed(true),
                LoadOptions.noProcessing().foldValueBiases(true))) {
            HookedTransformer processed = Pretrained.loadFolder("tiny-gpt2", dir, options);
            assertClose(expected, processed.forward(ref.tokens()).logSoftmax(-1), TOL, TOL, "log-probs with " + options);
        }
        HookedTransformer processed = Pretrained.loadFolder("tiny-gpt2", dir, LoadOptions.defaults());
        assertEquals(ModelConfig.Normalization.LN_PRE, processed.config().normalization());
        assertClose(processed.b_V(1).zerosLike(), processed.b_V(1), 0, 0, "value biases folded");
        var m = processed.W_U().getManager();
        Shape dModel = new Shape(ref.config().dModel());
        Shape dVocab = new Shape(ref.config().dVocab());
        assertClose(m.zeros(dModel), processed.W_U().mean(new int[] {1}), 1e-6, 0, "W_U centred over the vocabulary");
        assertClose(m.zeros(dVocab), processed.W_U().mean(new int[] {0}), 1e-6, 0, "W_U centred over d_model");
        assertClose(m.zeros(dVocab), processed.W_E().mean(new int[] {1}), 1e-6, 0, "W_E centred over d_model");
    }

    @Test
    void tiedCheckpointsUnembedWithTheTransposedEmbedding() throws IOException {
        Path dir = snapshot("test/tied", hfWeights(tl, ref.config(), "", false), hfConfig(ref.config(), true));
        HookedTransformer model = Pretrained.loadFolder("tied", dir, LoadOptions.noProcessing());
        assertArrayEquals(tl.get("embed.W_E").transpose().toFloatArray(), model.W_U().toFloatArray());
    }

    @Test
    void shardedCheckpointsLoadFromTheirIndex() throws IOException {
        Map<String, NDArray> hf = hfWeights(tl, ref.config(), "transformer.", true);
        Path dir = tmp.resolve("sharded");
        Files.createDirectories(dir);
        Map<String, NDArray> first = new LinkedHashMap<>();
        Map<String, NDArray> second = new LinkedHashMap<>();
        StringBuilder map = new StringBuilder();
        int i = 0;
        for (var e : hf.entrySet()) {
            String shard = i++ % 2 == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
            (shard.startsWith("model-00001") ? first : second).put(e.getKey(), e.getValue());
            map.append(map.length() == 0 ? "" : ", ").append('"').append(e.getKey()).append("\": \"").append(shard).append('"');
        }
        Safetensors.write(dir.resolve("model-00001-of-00002.safetensors"), first);
        Safetensors.write(dir.resolve("model-00002-of-00002.safetensors"), second);
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\": {}, \"weight_map\": {" + map + "}}");
        Files.writeString(dir.resolve("config.json"), hfConfig(ref.config(), false));
        HookedTransformer model = Pretrained.loadFolder("sharded", dir, LoadOptions.noProcessing());
        assertClose(expectedLogits(), model.forward(ref.tokens()), TOL, TOL, "sharded logits");
    }

    @Test
    void pickleCheckpointsAreRefusedWithAPointerToSafetensors() throws IOException {
        Path dir = tmp.resolve("pickle");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), hfConfig(ref.config(), true));
        Files.write(dir.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2});
        IOException e = assertThrows(IOException.class, () -> Pretrained.loadFolder("pickle", dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("pickle") && e.getMessage().contains("safetensors"), e.getMessage());
    }

    @Test
    void unknownTensorsAndUnknownArchitecturesAreNamed() throws IOException {
        Map<String, NDArray> hf = hfWeights(tl, ref.config(), "", true);
        hf.put("h.0.attn.c_extra.weight", tl.get("ln_final.w"));
        Path dir = snapshot("test/extra", hf, hfConfig(ref.config(), false));
        ModelFileException e = assertThrows(ModelFileException.class,
                () -> Pretrained.loadFolder("extra", dir, LoadOptions.defaults()));
        assertTrue(e.getMessage().contains("h.0.attn.c_extra.weight") && e.getMessage().contains("model.safetensors")
                && e.getMessage().contains("GPT-2"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"mamba\"}");
        IOException unknown = assertThrows(IOException.class, () -> Pretrained.loadFolder("extra", dir, LoadOptions.defaults()));
        assertTrue(unknown.getMessage().contains("'mamba'") && unknown.getMessage().contains("gpt_neox (GPT-NeoX)")
                && unknown.getMessage().contains("gemma3_text (Gemma 3)"), unknown.getMessage());
    }
}
