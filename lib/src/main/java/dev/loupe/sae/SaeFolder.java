package dev.loupe.sae;

import dev.loupe.load.Safetensors;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes an SAE as SAELens saves one: {@code cfg.json} (SAELens 6's layout: sizes, architecture and run-time options at
 * the top, hook and model under {@code metadata}) and {@code sae_weights.safetensors} under SAELens's tensor names.
 */
final class SaeFolder {

    private SaeFolder() {}

    /** Writes the two files into {@code dir}, which must exist (the trainer writes whole folders atomically around this). */
    static void writeInto(Sae sae, Path dir) throws IOException {
        SaeConfig c = sae.config();
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("architecture", c.saeLensArchitecture());
        cfg.put("d_in", c.dIn());
        cfg.put("d_sae", c.dSae());
        if (c.kind() != SaeConfig.Kind.SAE) {
            cfg.put("d_out", c.dOut());
        }
        cfg.put("dtype", sae.dataType() == ai.djl.ndarray.types.DataType.FLOAT64 ? "float64" : "float32");
        cfg.put("device", "cpu");
        cfg.put("apply_b_dec_to_input", c.applyBDecToInput());
        cfg.put("normalize_activations", c.normalization().saeLensName());
        cfg.put("reshape_activations", c.hookName().endsWith("hook_z") ? "hook_z" : "none");
        if (c.k() > 0) {
            cfg.put("k", c.k());
            cfg.put("rescale_acts_by_decoder_norm", c.rescaleByDecoderNorm());
        }
        Map<String, Object> metadata = new LinkedHashMap<>(c.metadata());
        metadata.put("model_name", c.modelName());
        metadata.put("hook_name", c.hookName());
        if (c.kind() != SaeConfig.Kind.SAE) {
            metadata.put("hook_name_out", c.hookNameOut());
        }
        cfg.put("metadata", metadata);
        String json = new com.google.gson.GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(cfg);
        Files.writeString(dir.resolve("cfg.json"), json + "\n", StandardCharsets.UTF_8);
        Safetensors.write(dir.resolve("sae_weights.safetensors"), sae.stateDict());
    }
}
