package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;
import dev.loupe.model.ModelConfig.AttnType;

import java.util.Collections;
import java.util.Map;

/** Mistral (model_type mistral): Llama's layout with every layer attending to a sliding window when one is set. */
public final class MistralConverter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("Mistral", "mistral");
    }

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        ModelConfig.Builder b = LlamaLayout.config(name, hf, "hidden_act");
        if (hf.has("sliding_window")) {
            int layers = hf.layers("num_hidden_layers");
            b.windowSize(hf.integer("sliding_window")).attnTypes(Collections.nCopies(layers, AttnType.LOCAL));
        }
        return b.build();
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights weights) throws ModelFileException {
        return LlamaLayout.convert(cfg, hf, weights, LlamaLayout.Variant.llama());
    }
}
