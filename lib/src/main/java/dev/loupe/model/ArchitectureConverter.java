package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One Hugging Face family: its config.json to Loupe's config, its tensors to TransformerLens-named weights
 * (unprocessed: norms still separate, nothing centred). Adding a family is one file implementing this, listed
 * in {@link Pretrained}.
 */
public interface ArchitectureConverter {

    /**
     * The family's name (in messages and the README's model table), the config.json model_type values it reads, and
     * the tensors its checkpoints may carry that are not weights (causal-mask buffers, rotary frequencies).
     */
    record Family(String name, List<String> modelTypes, Pattern buffers) {
        public Family(String name, String modelType) {
            this(name, List.of(modelType), Pattern.compile("(?!)"));
        }

        public Family(String name, String modelType, String buffers) {
            this(name, List.of(modelType), Pattern.compile(buffers));
        }
    }

    Family family();

    ModelConfig config(String name, HfConfig hf) throws ModelFileException;

    Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights weights) throws ModelFileException;
}
