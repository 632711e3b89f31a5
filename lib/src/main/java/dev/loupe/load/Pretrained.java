package dev.loupe.load;

import ai.djl.ndarray.NDArray;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Loads a model folder: a Hugging Face checkpoint (config.json with a model_type, model.safetensors or a sharded
 * index) converted by its architecture's converter, or a model Loupe saved (config.json with TransformerLens
 * names). Then processes the weights as the options say.
 */
public final class Pretrained {

    private static final List<ArchitectureConverter> CONVERTERS = List.of(new Gpt2Converter());

    private Pretrained() {}

    public static HookedTransformer loadFolder(String name, Path dir, LoadOptions options) throws IOException {
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new IOException("Cannot load " + name + " from " + dir + ": config.json is missing.");
        }
        JsonObject json = JsonParser.parseString(Files.readString(configFile)).getAsJsonObject();
        Map<String, NDArray> weights = readWeights(dir);
        ModelConfig cfg;
        Map<String, NDArray> tl;
        if (json.has("n_layers")) { // saved by Loupe: already TransformerLens-named
            cfg = ModelConfig.fromJson(json.toString());
            tl = weights;
        } else {
            ArchitectureConverter converter = CONVERTERS.stream().filter(c -> c.accepts(json)).findFirst()
                    .orElseThrow(() -> new IOException("Loupe cannot convert " + name + ": its config.json has model_type "
                            + (json.has("model_type") ? "'" + json.get("model_type").getAsString() + "'" : "(none)")
                            + "; supported: gpt2 (GPT-2 family, distilgpt2)."));
            cfg = converter.config(name, json);
            tl = converter.convert(cfg, json, weights);
        }
        cfg = cfg.toBuilder().dtype(options.dtype()).build();
        ModelConfig processed = WeightProcessing.processedConfig(cfg, options);
        return HookedTransformer.fromStateDict(processed, WeightProcessing.process(cfg, tl, options));
    }

    /** model.safetensors, or the shards named by model.safetensors.index.json; pickle checkpoints are refused. */
    static Map<String, NDArray> readWeights(Path dir) throws IOException {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(single)) {
            return Safetensors.read(single);
        }
        if (Files.isRegularFile(index)) {
            Map<String, NDArray> all = new LinkedHashMap<>();
            for (String shard : shardFiles(index)) {
                all.putAll(Safetensors.read(dir.resolve(shard)));
            }
            return all;
        }
        if (Files.exists(dir.resolve("pytorch_model.bin"))) {
            throw new IOException(dir + " has only pytorch_model.bin, a pickle file, which can run code when loaded; Loupe"
                    + " reads safetensors only. Most hub models publish model.safetensors; otherwise convert once with"
                    + " Python's safetensors package (safetensors.torch.save_file).");
        }
        throw new IOException("No weights in " + dir + ": expected model.safetensors or model.safetensors.index.json.");
    }

    /** The distinct shard file names in a model.safetensors.index.json, sorted. */
    public static List<String> shardFiles(Path indexJson) throws IOException {
        JsonObject index = JsonParser.parseString(Files.readString(indexJson)).getAsJsonObject();
        if (!index.has("weight_map")) {
            throw new IOException(indexJson + " has no weight_map.");
        }
        TreeSet<String> shards = new TreeSet<>();
        index.getAsJsonObject("weight_map").entrySet().forEach(e -> shards.add(e.getValue().getAsString()));
        return List.copyOf(shards);
    }
}
