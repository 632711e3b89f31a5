package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;
import dev.loupe.model.ModelConfig.PositionalEmbedding;

import java.util.LinkedHashMap;
import java.util.Map;

import static dev.loupe.model.TlShapes.layerNorm;
import static dev.loupe.model.TlShapes.outPerHead;
import static dev.loupe.model.TlShapes.rightMultiplied;

/**
 * GPT-NeoX and Pythia (model_type gpt_neox): rotary positions on the first rotary_pct of each head (halves
 * rotated), attention and MLP in parallel with a norm each (or sequential when use_parallel_residual is false),
 * and query, key and value fused per head.
 */
public final class GptNeoXConverter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("GPT-NeoX", "gpt_neox", "gpt_neox\\.layers\\.\\d+\\.attention\\.((masked_)?bias|rotary_emb\\.inv_freq)");
    }

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        int d = hf.integer("hidden_size");
        int heads = hf.integer("num_attention_heads");
        if (d % heads != 0) {
            throw hf.wrong("num_attention_heads", "a divisor of hidden_size " + d);
        }
        int dHead = d / heads;
        double pct = hf.number("rotary_pct", hf.has("partial_rotary_factor") ? hf.number("partial_rotary_factor") : 1.0);
        return ModelConfig.builder().modelName(name)
                .nLayers(hf.layers("num_hidden_layers"))
                .dModel(d)
                .nHeads(heads)
                .dMlp(hf.integer("intermediate_size"))
                .dVocab(hf.integer("vocab_size"))
                .nCtx(hf.integer("max_position_embeddings"))
                .actFn(LlamaLayout.activation(hf, "hidden_act", "gelu"))
                .eps(hf.number("layer_norm_eps", 1e-5))
                .positionalEmbedding(PositionalEmbedding.ROTARY)
                .rotaryDim((int) (dHead * pct)) // Hugging Face truncates the same way
                .rotaryBase(hf.number("rotary_emb_base", hf.number("rope_theta", 10000)))
                .parallelAttnMlp(hf.bool("use_parallel_residual", true))
                .initRange(hf.number("initializer_range", 0.02))
                .build();
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights in) throws ModelFileException {
        Map<String, NDArray> w = new LinkedHashMap<>();
        int d = cfg.dModel();
        int h = cfg.nHeads();
        int dh = cfg.dHead();
        int m = cfg.dMlp();
        w.put("embed.W_E", in.take("gpt_neox.embed_in.weight", cfg.dVocab(), d));
        for (int l = 0; l < cfg.nLayers(); l++) {
            String src = "gpt_neox.layers." + l + ".";
            String dst = "blocks." + l + ".";
            layerNorm(w, dst + "ln1", in, src + "input_layernorm", d);
            // Fused per head: rows [head, (q | k | v), d_head], not [(q | k | v), head, d_head].
            NDList qkv = in.take(src + "attention.query_key_value.weight", 3L * d, d).reshape(h, 3, dh, d).split(3, 1);
            NDList qkvBias = in.take(src + "attention.query_key_value.bias", 3L * d).reshape(h, 3, dh).split(3, 1);
            String[] names = {"Q", "K", "V"};
            for (int i = 0; i < 3; i++) {
                w.put(dst + "attn.W_" + names[i], qkv.get(i).reshape(h, dh, d).transpose(0, 2, 1)); // [h, d, dh]
                w.put(dst + "attn.b_" + names[i], qkvBias.get(i).reshape(h, dh));
            }
            w.put(dst + "attn.W_O", outPerHead(in.take(src + "attention.dense.weight", d, d), h, dh));
            w.put(dst + "attn.b_O", in.take(src + "attention.dense.bias", d));
            layerNorm(w, dst + "ln2", in, src + "post_attention_layernorm", d);
            w.put(dst + "mlp.W_in", rightMultiplied(in.take(src + "mlp.dense_h_to_4h.weight", m, d)));
            w.put(dst + "mlp.b_in", in.take(src + "mlp.dense_h_to_4h.bias", m));
            w.put(dst + "mlp.W_out", rightMultiplied(in.take(src + "mlp.dense_4h_to_h.weight", d, m)));
            w.put(dst + "mlp.b_out", in.take(src + "mlp.dense_4h_to_h.bias", d));
        }
        layerNorm(w, "ln_final", in, "gpt_neox.final_layer_norm", d);
        NDArray head = hf.bool("tie_word_embeddings", false) ? w.get("embed.W_E") : in.take("embed_out.weight", cfg.dVocabOut(), d);
        w.put("unembed.W_U", rightMultiplied(head));
        w.put("unembed.b_U", TlShapes.zeros(head, cfg.dVocabOut()));
        in.checkAllUsed();
        return w;
    }
}
