package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.load.AtomicFiles;
import dev.loupe.load.Safetensors;
import dev.loupe.load.SavedModel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code save} and {@code load}: a model as config.json (TransformerLens's names) beside model.safetensors. */
final class Persistence {

    private Persistence() {}

    /** See {@link HookedTransformer#load(Path)}. */
    static HookedTransformer load(Path dir) throws IOException {
        Path config = dir.resolve("config.json");
        Path weights = dir.resolve("model.safetensors");
        for (Path p : List.of(config, weights)) {
            if (!Files.isRegularFile(p)) {
                throw new IOException("Cannot load a model from " + dir + ": " + p.getFileName() + " is missing.");
            }
        }
        ModelConfig cfg = SavedModel.config(config);
        SavedModel.checkFits(cfg, config, Safetensors.entries(weights), weights);
        return HookedTransformer.fromStateDict(cfg, Safetensors.read(weights));
    }

    /** See {@link HookedTransformer#save(Path, DataType)}. */
    static void save(ModelConfig cfg, Map<String, NDArray> params, Path dir, DataType storage) throws IOException {
        Files.createDirectories(dir);
        Map<String, NDArray> stored = params;
        if (storage != cfg.dtype()) {
            stored = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> p : params.entrySet()) {
                stored.put(p.getKey(), p.getValue().toType(storage, false));
            }
        }
        Safetensors.write(dir.resolve("model.safetensors"), stored);
        AtomicFiles.write(dir.resolve("config.json"), out -> out.write(cfg.toJson().getBytes(StandardCharsets.UTF_8)));
    }
}
