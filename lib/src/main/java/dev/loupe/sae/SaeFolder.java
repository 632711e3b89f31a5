package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.load.Safetensors;
import dev.loupe.train.AtomicFolder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * SAELens's folder: {@code cfg.json}, {@code sae_weights.safetensors} and, optionally, {@code sparsity.safetensors}
 * (the tensor {@code sparsity}: each feature's log10 firing density). Reading takes both cfg.json layouts SAELens has
 * published; writing uses its current one, and the folder appears whole or not at all.
 */
final class SaeFolder {

    static final String WEIGHTS = "sae_weights.safetensors";
    static final String SPARSITY = "sparsity.safetensors";
    private static final Set<String> FILES = Set.of(SaeCfgJson.FILE, WEIGHTS, SPARSITY);

    private SaeFolder() {}

    static Sae read(Path dir, DataType type) throws IOException {
        return read(dir, type, Map.of());
    }

    /** As {@link #read(Path, DataType)}, with {@code metadata} added to cfg.json's (a release's Neuronpedia id). */
    static Sae read(Path dir, DataType type, Map<String, Object> metadata) throws IOException {
        checkType(type);
        Path cfgFile = dir.resolve(SaeCfgJson.FILE);
        if (!Files.isRegularFile(cfgFile) || !Files.isRegularFile(dir.resolve(WEIGHTS))) {
            throw new NoSuchFileException(dir + " is not a SAELens folder: expected " + SaeCfgJson.FILE + " and " + WEIGHTS
                    + " in it" + (Files.isRegularFile(dir.resolve("params.npz"))
                    ? " (params.npz is Gemma Scope's format: load it with Sae.fromPretrained)" : ""));
        }
        SaeConfig parsed = SaeCfgJson.parse(cfgFile.toString(), Files.readAllBytes(cfgFile));
        Map<String, Object> merged = new LinkedHashMap<>(parsed.metadata());
        merged.putAll(metadata);
        SaeConfig cfg = parsed.withMetadata(merged);
        Sae sae = fromTensors(dir.resolve(WEIGHTS).toString(), cfg, Safetensors.read(dir.resolve(WEIGHTS)), type)
                .from(cfgFile.toString());
        Path sparsity = dir.resolve(SPARSITY);
        if (Files.isRegularFile(sparsity)) {
            try (NDArray values = readSparsity(sparsity, cfg.dSae(), type)) {
                sae.withLogSparsity(values);
            } catch (IOException | RuntimeException e) {
                sae.close();
                throw e;
            }
        }
        return sae;
    }

    private static NDArray readSparsity(Path file, int dSae, DataType type) throws IOException {
        Map<String, NDArray> tensors = Safetensors.read(file);
        try {
            Map<String, Shape> expected = Map.of("sparsity", new Shape(dSae));
            checkNames(file.toString(), expected, tensors);
            checkTensor(file.toString(), "sparsity", expected.get("sparsity"), tensors.get("sparsity"), "d_sae");
            return tensors.get("sparsity").toType(type, true);
        } finally {
            tensors.values().forEach(NDArray::close);
        }
    }

    /**
     * The SAE of a config and the tensors of {@code file} (which it closes), each present under SAELens's name with the
     * config's shape and a float type, converted to {@code type}. A {@code scaling_factor} of ones, which SAELens also
     * drops, is dropped; any other is refused, as Loupe does not apply one.
     */
    static Sae fromTensors(String file, SaeConfig cfg, Map<String, NDArray> tensors, DataType type) {
        Map<String, NDArray> converted = new LinkedHashMap<>();
        try {
            NDArray scaling = tensors.get("scaling_factor");
            if (scaling != null) {
                boolean ones;
                try (NDArray differs = scaling.toType(DataType.FLOAT64, false).neq(1.0); NDArray any = differs.any()) {
                    ones = isFloat(scaling.getDataType()) && !any.getBoolean();
                }
                if (!ones) {
                    throw new SaeFormatException(file, "scaling_factor", "absent, or all ones", "other values: a fine-tuning"
                            + " scaling factor, which Loupe does not apply");
                }
                tensors.remove("scaling_factor").close();
            }
            Map<String, Shape> expected = Sae.parameterShapes(cfg);
            checkNames(file, expected, tensors);
            for (Map.Entry<String, Shape> e : expected.entrySet()) {
                checkTensor(file, e.getKey(), e.getValue(), tensors.get(e.getKey()), cfg.toString());
                converted.put(e.getKey(), tensors.get(e.getKey()).toType(type, true));
            }
            return Sae.fromWeights(cfg, converted);
        } finally {
            tensors.values().forEach(NDArray::close);
            converted.values().forEach(NDArray::close);
        }
    }

    private static void checkNames(String file, Map<String, Shape> expected, Map<String, NDArray> tensors) {
        for (String name : expected.keySet()) {
            if (!tensors.containsKey(name)) {
                throw new SaeFormatException(file, name, "a tensor " + expected.get(name), "none; the file has " + tensors.keySet());
            }
        }
        for (String name : tensors.keySet()) {
            if (!expected.containsKey(name)) {
                throw new SaeFormatException(file, name, "only " + expected.keySet(), "an extra tensor of shape "
                        + tensors.get(name).getShape() + " (another architecture than cfg.json says?)");
            }
        }
    }

    private static void checkTensor(String file, String name, Shape shape, NDArray a, String forWhat) {
        if (!isFloat(a.getDataType())) {
            throw new SaeFormatException(file, name, "float32, float16, bfloat16 or float64", a.getDataType().toString());
        }
        if (!a.getShape().equals(shape)) {
            throw new SaeFormatException(file, name, "shape " + shape + " for " + forWhat, "shape " + a.getShape());
        }
    }

    private static boolean isFloat(DataType t) {
        return t == DataType.FLOAT32 || t == DataType.FLOAT64 || t == DataType.FLOAT16;
    }

    static void checkType(DataType type) {
        if (type != DataType.FLOAT32 && type != DataType.FLOAT64) {
            throw new IllegalArgumentException("An SAE loads as float32 or float64; got " + type);
        }
    }

    /**
     * Writes the folder whole or not at all. An existing folder is replaced only if it holds nothing but SAELens's
     * files, so that saving over an SAE never deletes anything else.
     */
    static void write(Sae sae, Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            try (Stream<Path> files = Files.list(dir)) {
                List<String> others = files.map(p -> p.getFileName().toString()).filter(n -> !FILES.contains(n)).sorted().toList();
                if (!others.isEmpty()) {
                    throw new IOException("Not saving the SAE into " + dir + ": it holds files other than an SAE's " + others
                            + ", which saving (it replaces the folder) would delete. Save into a new or empty folder.");
                }
            }
        }
        AtomicFolder.write(dir, tmp -> writeInto(sae, tmp));
    }

    /** Writes the SAE's files into {@code dir}, which exists; callers make the folder appear whole (a trainer's checkpoint). */
    static void writeInto(Sae sae, Path dir) throws IOException {
        Files.write(dir.resolve(SaeCfgJson.FILE), SaeCfgJson.write(sae.config(), sae.dataType()));
        Safetensors.write(dir.resolve(WEIGHTS), sae.stateDict());
        if (sae.logSparsity().isPresent()) {
            Safetensors.write(dir.resolve(SPARSITY), Map.of("sparsity", sae.logSparsity().get()));
        }
    }
}
