package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;

import java.util.Map;

/**
 * Gemma 2 (model_type gemma2): norms before and after attention and MLP, each multiplying by (1 + w); embeddings
 * scaled by sqrt(d_model); attention and final logits soft-capped; even layers attend to a sliding window; scores
 * scaled by query_pre_attn_scalar; GeGLU.
 */
public final class Gemma2Converter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("Gemma 2", "gemma2");
    }

    static final LlamaLayout.Variant GEMMA = new LlamaLayout.Variant(false, false, false, true, true, true, true);

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        int layers = hf.layers("num_hidden_layers");
        ModelConfig.Builder b = gemma(name, hf)
                .attnTypes(LlamaLayout.layerTypes(hf, layers, l -> l % 2 == 0))
                .attnScoresSoftCap(hf.number("attn_logit_softcapping", 0))
                .outputLogitsSoftCap(hf.number("final_logit_softcapping", 0));
        return b.build();
    }

    /** What Gemma 2 and 3 share beyond Llama's fields. */
    static ModelConfig.Builder gemma(String name, HfConfig hf) throws ModelFileException {
        ModelConfig.Builder b = LlamaLayout.config(name, hf, hf.has("hidden_activation") ? "hidden_activation" : "hidden_act")
                .postNorms(true)
                .windowSize(hf.integer("sliding_window"));
        int dHead = hf.integer("head_dim", hf.integer("hidden_size") / hf.integer("num_attention_heads"));
        return b.attnScale(Math.sqrt(hf.number("query_pre_attn_scalar", dHead)));
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights weights) throws ModelFileException {
        return LlamaLayout.convert(cfg, hf, weights, GEMMA);
    }
}
