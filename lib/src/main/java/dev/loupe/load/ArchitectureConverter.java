package dev.loupe.load;

import ai.djl.ndarray.NDArray;

import com.google.gson.JsonObject;

import dev.loupe.model.ModelConfig;

import java.util.Map;

/** Turns one Hugging Face architecture's config.json and weights into Loupe's config and TransformerLens-named weights. */
public interface ArchitectureConverter {

    /** Whether this converter reads checkpoints with this config.json. */
    boolean accepts(JsonObject hfConfig);

    ModelConfig config(String name, JsonObject hfConfig);

    /** TransformerLens-named weights, unprocessed (layer norms still separate, nothing centred). */
    Map<String, NDArray> convert(ModelConfig cfg, JsonObject hfConfig, Map<String, NDArray> hfWeights);
}
