package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;

import java.util.Map;

/** Qwen 2 and 2.5 (model_type qwen2): Llama's layout with query, key and value biases; tied in the small models. */
public final class Qwen2Converter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("Qwen2", "qwen2");
    }

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        return slidingLayers(LlamaLayout.config(name, hf, "hidden_act"), hf).build();
    }

    /** Qwen's sliding window, when switched on, applies to the layers from max_window_layers on (or as layer_types say). */
    static ModelConfig.Builder slidingLayers(ModelConfig.Builder b, HfConfig hf) throws ModelFileException {
        if (!hf.bool("use_sliding_window", false) && !hf.has("layer_types")) {
            return b;
        }
        int layers = hf.layers("num_hidden_layers");
        int from = hf.has("max_window_layers") ? (int) hf.whole("max_window_layers", 0, Integer.MAX_VALUE) : 0;
        boolean on = hf.bool("use_sliding_window", false);
        b.attnTypes(LlamaLayout.layerTypes(hf, layers, l -> on && l >= from));
        return hf.has("sliding_window") ? b.windowSize(hf.integer("sliding_window")) : b;
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights weights) throws ModelFileException {
        return LlamaLayout.convert(cfg, hf, weights, new LlamaLayout.Variant(true, false, false, false, false, false, false));
    }
}
