package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.loupe.model.TlShapes.layerNorm;
import static dev.loupe.model.TlShapes.zeros;

/**
 * Hugging Face's GPT-2 family (gpt2, gpt2-medium, -large, -xl, distilgpt2). GPT-2 stores linear layers as Conv1D,
 * x @ W with W [in, out], and fuses Q, K and V into c_attn. Tensor names may carry a "transformer." prefix.
 */
public final class Gpt2Converter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("GPT-2", "gpt2", "(transformer\\.)?h\\.\\d+\\.attn\\.(masked_)?bias");
    }

    @Override
    public ModelConfig config(String name, HfConfig c) throws ModelFileException {
        int d = c.integer("n_embd");
        return ModelConfig.builder().modelName(name)
                .nLayers(c.layers("n_layer"))
                .dModel(d)
                .nHeads(c.integer("n_head"))
                .dMlp(c.integer("n_inner", 4 * d))
                .dVocab(c.integer("vocab_size"))
                .nCtx(c.integer("n_positions"))
                .actFn(LlamaLayout.activation(c, "activation_function", "gelu_new"))
                .eps(c.number("layer_norm_epsilon", 1e-5))
                .initRange(c.number("initializer_range", 0.02))
                .build();
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hfConfig, HfWeights in) throws ModelFileException {
        Map<String, NDArray> w = new LinkedHashMap<>();
        String p = in.has("transformer.wte.weight") ? "transformer." : ""; // GPT-2 checkpoints come with and without it
        int d = cfg.dModel();
        int h = cfg.nHeads();
        int dh = cfg.dHead();
        int m = cfg.dMlp();
        w.put("embed.W_E", in.take(p + "wte.weight", cfg.dVocab(), d));
        w.put("pos_embed.W_pos", in.take(p + "wpe.weight", cfg.nCtx(), d));
        for (int l = 0; l < cfg.nLayers(); l++) {
            String src = p + "h." + l + ".";
            String dst = "blocks." + l + ".";
            layerNorm(w, dst + "ln1", in, src + "ln_1", d);
            NDList qkv = in.take(src + "attn.c_attn.weight", d, 3L * h * dh).split(3, 1); // [d, 3 d] -> 3 × [d, h·dh]
            NDList qkvBias = in.take(src + "attn.c_attn.bias", 3L * h * dh).split(3, 0);
            String[] names = {"Q", "K", "V"};
            for (int i = 0; i < 3; i++) {
                w.put(dst + "attn.W_" + names[i], qkv.get(i).reshape(d, h, dh).transpose(1, 0, 2)); // [h, d, dh]
                w.put(dst + "attn.b_" + names[i], qkvBias.get(i).reshape(h, dh));
            }
            w.put(dst + "attn.W_O", in.take(src + "attn.c_proj.weight", (long) h * dh, d).reshape(h, dh, d));
            w.put(dst + "attn.b_O", in.take(src + "attn.c_proj.bias", d));
            layerNorm(w, dst + "ln2", in, src + "ln_2", d);
            w.put(dst + "mlp.W_in", in.take(src + "mlp.c_fc.weight", d, m));
            w.put(dst + "mlp.b_in", in.take(src + "mlp.c_fc.bias", m));
            w.put(dst + "mlp.W_out", in.take(src + "mlp.c_proj.weight", m, d));
            w.put(dst + "mlp.b_out", in.take(src + "mlp.c_proj.bias", d));
        }
        layerNorm(w, "ln_final", in, p + "ln_f", d);
        boolean tied = hfConfig.bool("tie_word_embeddings", true);
        NDArray lmHead = in.takeOptional("lm_head.weight", cfg.dVocabOut(), d); // [vocab, d]; tied checkpoints may omit it
        w.put("unembed.W_U", (tied || lmHead == null ? w.get("embed.W_E") : lmHead).transpose());
        w.put("unembed.b_U", zeros(w.get("embed.W_E"), cfg.dVocabOut()));
        in.checkAllUsed();
        return w;
    }
}
