package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

import com.google.gson.JsonObject;

import dev.loupe.model.ModelConfig;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Hugging Face's GPT-2 family (gpt2, gpt2-medium, -large, -xl, distilgpt2) to Loupe's TransformerLens-named
 * weights. GPT-2 stores linear layers as Conv1D, x @ W with W [in, out], and fuses Q, K and V into c_attn.
 * Another architecture is another file like this one.
 */
public final class Gpt2Converter implements ArchitectureConverter {

    /** Causal-mask buffers that older checkpoints carry; they are not weights. */
    private static final Pattern IGNORED = Pattern.compile("(transformer\\.)?h\\.\\d+\\.attn\\.(masked_)?bias");

    @Override
    public boolean accepts(JsonObject hfConfig) {
        return hfConfig.has("model_type") && hfConfig.get("model_type").getAsString().equals("gpt2");
    }

    @Override
    public ModelConfig config(String name, JsonObject c) {
        int d = c.get("n_embd").getAsInt();
        ModelConfig.Builder b = ModelConfig.builder().modelName(name)
                .nLayers(c.get("n_layer").getAsInt())
                .dModel(d)
                .nHeads(c.get("n_head").getAsInt())
                .dMlp(c.has("n_inner") && !c.get("n_inner").isJsonNull() ? c.get("n_inner").getAsInt() : 4 * d)
                .dVocab(c.get("vocab_size").getAsInt())
                .nCtx(c.get("n_positions").getAsInt())
                .actFn(c.has("activation_function") ? c.get("activation_function").getAsString() : "gelu_new")
                .eps(c.has("layer_norm_epsilon") ? c.get("layer_norm_epsilon").getAsDouble() : 1e-5)
                .initRange(c.has("initializer_range") ? c.get("initializer_range").getAsDouble() : 0.02);
        return b.build();
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, JsonObject hfConfig, Map<String, NDArray> hf) {
        Map<String, NDArray> w = new LinkedHashMap<>();
        Weights in = new Weights(hf);
        int d = cfg.dModel();
        int h = cfg.nHeads();
        int dh = cfg.dHead();
        w.put("embed.W_E", in.take("wte.weight"));
        w.put("pos_embed.W_pos", in.take("wpe.weight"));
        for (int l = 0; l < cfg.nLayers(); l++) {
            String src = "h." + l + ".";
            String dst = "blocks." + l + ".";
            w.put(dst + "ln1.w", in.take(src + "ln_1.weight"));
            w.put(dst + "ln1.b", in.take(src + "ln_1.bias"));
            NDList qkv = in.take(src + "attn.c_attn.weight").split(3, 1); // [d, 3 d] -> 3 × [d, h·dh]
            NDList qkvBias = in.take(src + "attn.c_attn.bias").split(3, 0);
            String[] names = {"Q", "K", "V"};
            for (int i = 0; i < 3; i++) {
                w.put(dst + "attn.W_" + names[i], qkv.get(i).reshape(d, h, dh).transpose(1, 0, 2)); // [h, d, dh]
                w.put(dst + "attn.b_" + names[i], qkvBias.get(i).reshape(h, dh));
            }
            w.put(dst + "attn.W_O", in.take(src + "attn.c_proj.weight").reshape(h, dh, d));
            w.put(dst + "attn.b_O", in.take(src + "attn.c_proj.bias"));
            w.put(dst + "ln2.w", in.take(src + "ln_2.weight"));
            w.put(dst + "ln2.b", in.take(src + "ln_2.bias"));
            w.put(dst + "mlp.W_in", in.take(src + "mlp.c_fc.weight"));
            w.put(dst + "mlp.b_in", in.take(src + "mlp.c_fc.bias"));
            w.put(dst + "mlp.W_out", in.take(src + "mlp.c_proj.weight"));
            w.put(dst + "mlp.b_out", in.take(src + "mlp.c_proj.bias"));
        }
        w.put("ln_final.w", in.take("ln_f.weight"));
        w.put("ln_final.b", in.take("ln_f.bias"));
        boolean tied = !hfConfig.has("tie_word_embeddings") || hfConfig.get("tie_word_embeddings").getAsBoolean();
        NDArray lmHead = in.takeOptional("lm_head.weight"); // [vocab, d]; tied checkpoints may omit it
        if (tied || lmHead == null) {
            w.put("unembed.W_U", w.get("embed.W_E").transpose());
        } else {
            w.put("unembed.W_U", lmHead.transpose());
        }
        w.put("unembed.b_U", w.get("embed.W_E").getManager().zeros(new ai.djl.ndarray.types.Shape(cfg.dVocabOut()),
                w.get("embed.W_E").getDataType()));
        in.checkAllUsed();
        return w;
    }

    /** The checkpoint's tensors, with or without the "transformer." prefix, each used once. */
    private static final class Weights {
        private final Map<String, NDArray> byName = new LinkedHashMap<>();

        Weights(Map<String, NDArray> hf) {
            hf.forEach((key, value) -> {
                if (!IGNORED.matcher(key).matches()) {
                    byName.put(key.startsWith("transformer.") ? key.substring("transformer.".length()) : key, value);
                }
            });
        }

        NDArray take(String name) {
            NDArray a = byName.remove(name);
            if (a == null) {
                throw new IllegalArgumentException("The GPT-2 checkpoint has no tensor '" + name + "' (nor 'transformer."
                        + name + "'); it has: " + summary());
            }
            return a;
        }

        NDArray takeOptional(String name) {
            return byName.remove(name);
        }

        void checkAllUsed() {
            if (!byName.isEmpty()) {
                throw new IllegalArgumentException("The GPT-2 checkpoint has tensors Loupe does not know: " + summary());
            }
        }

        private String summary() {
            List<String> names = new ArrayList<>(byName.keySet());
            return names.size() <= 8 ? names.toString() : names.subList(0, 8) + " and " + (names.size() - 8) + " more";
        }
    }
}
