package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.load.AtomicFiles;
import dev.loupe.load.ModelFileException;
import dev.loupe.load.Safetensors;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A model Loupe saved ({@code save}, {@code load}): config.json with TransformerLens's names beside safetensors
 * weights. The config is checked against the weights' headers before any weight is read or any array made, so a
 * wrong size fails at once, naming the field and the files, instead of allocating what the config claims.
 */
final class SavedModel {

    private static final Pattern LAYER = Pattern.compile("^blocks\\.(\\d{1,9})\\.");
    private static final Set<DataType> FLOATING = Set.of(DataType.FLOAT16, DataType.BFLOAT16, DataType.FLOAT32, DataType.FLOAT64);

    private SavedModel() {}

    /** See {@link HookedTransformer#load(Path)}. */
    static HookedTransformer load(Path dir) throws IOException {
        Path config = dir.resolve("config.json");
        Path weights = dir.resolve("model.safetensors");
        for (Path p : List.of(config, weights)) {
            if (!Files.isRegularFile(p)) {
                throw new IOException("Cannot load a model from " + dir + ": " + p.getFileName() + " is missing.");
            }
        }
        ModelConfig cfg = config(config);
        checkFits(cfg, config, Safetensors.entries(weights), weights);
        return HookedTransformer.fromStateDict(cfg, Safetensors.read(weights));
    }

    /** See {@link HookedTransformer#save(Path, DataType)}. */
    static void save(ModelConfig cfg, Map<String, NDArray> params, Path dir, DataType storage) throws IOException {
        if (storage != DataType.FLOAT32 && storage != DataType.FLOAT64 && storage != DataType.FLOAT16) {
            // BF16 in particular: libtorch here aborts the whole process on BF16 arrays.
            throw new IllegalArgumentException("Weights are saved as FLOAT32, FLOAT64 or FLOAT16, not " + storage);
        }
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

    /** The config in {@code file}; a malformed one fails naming the file and the field. */
    static ModelConfig config(Path file) throws IOException {
        try {
            return ModelConfig.fromJson(text(file));
        } catch (IllegalArgumentException e) {
            throw new ModelFileException("Cannot load the model config " + file + ": " + e.getMessage());
        }
    }

    /** A file's text; bytes that are not UTF-8 fail naming the file. */
    static String text(Path file) throws IOException {
        try {
            return Files.readString(file);
        } catch (CharacterCodingException e) {
            throw new ModelFileException(file + " is not UTF-8 text (" + e.getMessage() + "); it is damaged or not a config.");
        }
    }

    /**
     * Fails unless the weights described by {@code entries} (from {@code weights}) are exactly the parameters
     * {@code cfg} (from {@code configFile}) asks for, each floating point and of its shape.
     */
    static void checkFits(ModelConfig cfg, Path configFile, Map<String, Safetensors.Entry> entries, Path weights)
            throws ModelFileException {
        String where = configFile + " does not fit the weights in " + weights + ": ";
        int layers = 0;
        for (String name : entries.keySet()) {
            Matcher m = LAYER.matcher(name);
            if (m.find()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
        }
        if (cfg.nLayers() != layers) { // before the expected names are listed: n_layers may be a billion
            throw new ModelFileException(where + "n_layers is " + cfg.nLayers() + " but the weights hold " + layers
                    + " layers (blocks.0 to blocks." + (layers - 1) + ").");
        }
        Map<String, Shape> expected = HookedTransformer.parameterShapes(cfg);
        List<String> problems = new ArrayList<>();
        expected.forEach((name, shape) -> {
            Safetensors.Entry e = entries.get(name);
            if (e == null) {
                problems.add("tensor " + name + " " + shape + " is missing");
            } else if (!FLOATING.contains(e.dtype())) {
                problems.add("tensor " + name + " is stored as " + e.dtype().name() + ", but weights must be floating point"
                        + " (F32, F16, BF16 or F64)");
            } else if (!e.shape().equals(shape)) {
                problems.add("tensor " + name + " has shape " + e.shape() + " but the config (" + sizes(cfg)
                        + ") asks for " + shape);
            }
        });
        for (String name : entries.keySet()) {
            if (!expected.containsKey(name)) {
                problems.add("tensor " + name + " is not a parameter of this config");
            }
        }
        if (!problems.isEmpty()) {
            throw new ModelFileException(where + String.join("; ", problems.subList(0, Math.min(5, problems.size())))
                    + (problems.size() > 5 ? "; and " + (problems.size() - 5) + " more." : "."));
        }
    }

    private static String sizes(ModelConfig c) {
        return "d_model " + c.dModel() + ", n_heads " + c.nHeads() + ", d_head " + c.dHead() + ", d_mlp " + c.dMlp()
                + ", d_vocab " + c.dVocab() + ", d_vocab_out " + c.dVocabOut() + ", n_ctx " + c.nCtx();
    }
}
