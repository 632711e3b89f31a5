package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;

import java.util.Map;

/** Llama 1, 2 and 3.x (model_type llama): grouped-query attention, Llama 3's rope scaling, tied or untied heads. */
public final class LlamaConverter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("Llama", "llama", "model\\.layers\\.\\d+\\.self_attn\\.rotary_emb\\.inv_freq");
    }

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        if (hf.bool("mlp_bias", false)) {
            throw hf.wrong("mlp_bias", "false (Loupe does not implement biased gated MLPs)");
        }
        return LlamaLayout.config(name, hf, "hidden_act").build();
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights weights) throws ModelFileException {
        boolean bias = hf.bool("attention_bias", false);
        return LlamaLayout.convert(cfg, hf, weights,
                new LlamaLayout.Variant(bias, bias, false, false, false, false, false));
    }
}
