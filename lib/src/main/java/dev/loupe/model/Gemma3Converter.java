package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;

import java.util.Map;

/**
 * Gemma 3 text models (model_type gemma3_text: 270m, 1b): Gemma 2's sandwich norms and scaled embeddings, plus
 * per-head (1 + w) norms of queries and keys; five sliding-window layers to each global one, which uses its own
 * rotary base (and rope_scaling) while local layers use rope_local_base_freq.
 */
public final class Gemma3Converter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("Gemma 3", "gemma3_text");
    }

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        int layers = hf.layers("num_hidden_layers");
        int pattern = hf.integer("sliding_window_pattern", 6);
        return Gemma2Converter.gemma(name, hf)
                .attnTypes(LlamaLayout.layerTypes(hf, layers, l -> (l + 1) % pattern != 0))
                .rotaryBaseLocal(hf.number("rope_local_base_freq", 10000))
                .attnScoresSoftCap(hf.number("attn_logit_softcapping", 0))
                .outputLogitsSoftCap(hf.number("final_logit_softcapping", 0))
                .useQkNorm(true)
                .build();
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights weights) throws ModelFileException {
        LlamaLayout.Variant g = Gemma2Converter.GEMMA;
        return LlamaLayout.convert(cfg, hf, weights, new LlamaLayout.Variant(g.qkvBias(), g.outputBias(), true, true, true, true, true));
    }
}
