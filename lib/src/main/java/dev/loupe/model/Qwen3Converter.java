package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;

import java.util.Map;

/** Qwen 3 dense models (model_type qwen3): per-head RMS norms of queries and keys, an explicit head_dim, no biases. */
public final class Qwen3Converter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("Qwen3", "qwen3");
    }

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        return Qwen2Converter.slidingLayers(LlamaLayout.config(name, hf, "hidden_act"), hf).useQkNorm(true).build();
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights weights) throws ModelFileException {
        boolean bias = hf.bool("attention_bias", false);
        return LlamaLayout.convert(cfg, hf, weights, new LlamaLayout.Variant(bias, bias, true, false, false, false, false));
    }
}
