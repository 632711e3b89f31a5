package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A Hugging Face checkpoint's tensors, each taken once by a converter: a tensor that is missing or of the wrong
 * shape, or one left over that no converter took, fails naming the family, the file and the tensor. Buffers that
 * some checkpoints carry (causal masks, rotary frequencies) are dropped by the family's pattern.
 */
public final class HfWeights {

    private final Map<String, NDArray> byName = new LinkedHashMap<>();
    private final Map<String, Path> files;
    private final Path where;
    private final String family;

    /**
     * The folder's weight files: model.safetensors, or the shards model.safetensors.index.json names, which must lie in
     * the folder (as the hub's downloads must); pickle checkpoints are refused.
     */
    public static List<Path> files(Path dir) throws IOException {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        if (Files.isRegularFile(index)) {
            List<Path> shards = new ArrayList<>();
            for (String shard : Hub.shardFiles(index)) {
                if (!HubCache.isSafeRelativePath(shard)) {
                    throw new ModelFileException("Shard index " + index + " names '" + shard + "', which is not a file in "
                            + dir + "; shards must be plain relative paths inside the model's folder.");
                }
                shards.add(dir.resolve(shard));
            }
            return shards;
        }
        if (Files.exists(dir.resolve("pytorch_model.bin"))) {
            throw new IOException(dir + " has only pytorch_model.bin, a pickle file, which can run code when loaded; Loupe"
                    + " reads safetensors only. Most hub models publish model.safetensors; otherwise convert once with"
                    + " Python's safetensors package (safetensors.torch.save_file).");
        }
        throw new IOException("No weights in " + dir + ": expected model.safetensors or model.safetensors.index.json.");
    }

    /** files: the weight file of each tensor (for messages); where: the file or folder to name otherwise. */
    public HfWeights(Map<String, NDArray> tensors, Map<String, Path> files, Path where, String family, Pattern buffers) {
        tensors.forEach((name, a) -> {
            if (buffers.matcher(name).matches()) {
                a.close();
            } else {
                byName.put(name, a);
            }
        });
        this.files = files;
        this.where = where;
        this.family = family;
    }

    public boolean has(String name) {
        return byName.containsKey(name);
    }

    /** The tensor, which must have this shape. */
    public NDArray take(String name, long... shape) throws ModelFileException {
        NDArray a = byName.remove(name);
        if (a == null) {
            throw new ModelFileException("The " + family + " checkpoint " + where + " has no tensor '" + name + "'; it has "
                    + summary() + ". Is the download incomplete, or is it another architecture?");
        }
        if (!a.getShape().equals(new Shape(shape))) {
            throw new ModelFileException("The " + family + " checkpoint's tensor '" + name + "' in " + files.getOrDefault(name, where)
                    + " has shape " + a.getShape() + ", but its config.json implies " + new Shape(shape) + ".");
        }
        return a;
    }

    /** The tensor if present (tied heads, optional biases), with this shape; null if absent. */
    public NDArray takeOptional(String name, long... shape) throws ModelFileException {
        return byName.containsKey(name) ? take(name, shape) : null;
    }

    /** Fails if a tensor is left that the converter did not use: its meaning would be lost without a word. */
    public void checkAllUsed() throws ModelFileException {
        if (!byName.isEmpty()) {
            String first = byName.keySet().iterator().next();
            throw new ModelFileException("The " + family + " checkpoint " + where + " has tensors Loupe does not know, e.g. '"
                    + first + "' in " + files.getOrDefault(first, where) + ": " + summary()
                    + ". Its config.json may describe a variant Loupe does not support.");
        }
    }

    private String summary() {
        List<String> names = new ArrayList<>(byName.keySet());
        return names.isEmpty() ? "no others" : names.size() <= 6 ? names.toString() : names.subList(0, 6) + " and " + (names.size() - 6) + " more";
    }
}
