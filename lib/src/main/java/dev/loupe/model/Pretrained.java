package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import dev.loupe.load.BundledModels;
import dev.loupe.load.Checkpoint;
import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.Hub;
import dev.loupe.load.JsonValues;
import dev.loupe.load.LoadOptions;
import dev.loupe.load.ModelFileException;
import dev.loupe.load.ModelLoadException;
import dev.loupe.load.ModelRegistry;
import dev.loupe.load.Progress;
import dev.loupe.load.Safetensors;
import dev.loupe.tokenize.Gpt2Tokenizer;
import dev.loupe.tokenize.Tokenizer;
import dev.loupe.tokenize.Tokenizers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code fromPretrained}: finds a model (a local folder, a short name from {@link ModelRegistry}, or a Hugging
 * Face repository id), fetching it into the Hugging Face cache if needed, then loads the folder: a Hugging Face
 * checkpoint (config.json with a model_type, model.safetensors or a sharded index) converted by its
 * architecture's converter, or a model Loupe saved (config.json with TransformerLens names). Then processes
 * the weights as the options say and attaches the folder's tokenizer.
 */
public final class Pretrained {

    /** One per family; config.json's model_type picks one. */
    private static final List<ArchitectureConverter> CONVERTERS = List.of(new Gpt2Converter(), new GptNeoConverter(),
            new GptJConverter(), new GptNeoXConverter(), new LlamaConverter(), new MistralConverter(), new Qwen2Converter(),
            new Qwen3Converter(), new Gemma2Converter(), new Gemma3Converter());

    private static final List<String> OPTIONAL_FILES = List.of("model.safetensors", "model.safetensors.index.json",
            "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json");

    private Pretrained() {}

    /** A local folder, a registry name or a repository id, loaded and processed as the options say. */
    public static HookedTransformer fromPretrained(String name, LoadOptions options) throws IOException {
        return fromPretrained(name, options, Hub.fromEnvironment());
    }

    /** As {@link #fromPretrained(String, LoadOptions)}, failing with an unchecked {@link ModelLoadException}. */
    static HookedTransformer orFail(String name, LoadOptions options) {
        try {
            return fromPretrained(name, options);
        } catch (IOException e) {
            throw new ModelLoadException(e.getMessage(), e);
        }
    }

    /** As {@link #fromPretrained(String, LoadOptions)}, through this hub (its cache, endpoint, token and progress). */
    public static HookedTransformer fromPretrained(String name, LoadOptions options, Hub hub) throws IOException {
        Path local = Path.of(name);
        if (Files.isDirectory(local)) {
            return load(local.getFileName().toString(), local, options, Optional.empty());
        }
        Optional<ModelRegistry.Entry> entry = ModelRegistry.find(name);
        if (entry.isPresent() && entry.get().isBundled()) {
            return load(entry.get().repoId(), BundledModels.folder(entry.get().bundled()), options, Optional.empty());
        }
        Path dir = snapshot(hub, name, entry, options.revision());
        Path index = dir.resolve("model.safetensors.index.json");
        if (!Files.isRegularFile(dir.resolve("model.safetensors")) && Files.isRegularFile(index)) {
            dir = hub.snapshot(entry.map(ModelRegistry.Entry::repoId).orElse(name), options.revision(),
                    Hub.shardFiles(index), List.of());
        }
        return load(name, dir, options, entry);
    }

    /** The folder's model with its tokenizer, knowing the checkpoint it came from. */
    private static HookedTransformer load(String name, Path dir, LoadOptions options, Optional<ModelRegistry.Entry> entry)
            throws IOException {
        return withTokenizer(loadFolder(name, dir, options), dir, entry).withCheckpoint(Checkpoint.of(dir, HfWeights.files(dir)));
    }

    /** The repository's snapshot; a registry model is first looked for, offline, under its former repository names. */
    private static Path snapshot(Hub hub, String name, Optional<ModelRegistry.Entry> entry, String revision) throws IOException {
        if (entry.isPresent()) {
            Hub cacheOnly = new Hub(hub.cacheDir(), null, null, true, Progress.none());
            for (String former : entry.get().formerRepoIds()) {
                try {
                    return cacheOnly.snapshot(former, revision, List.of("config.json"), OPTIONAL_FILES);
                } catch (IOException notCachedUnderThatName) {
                    // try the next name, then the current repository
                }
            }
        }
        return hub.snapshot(entry.map(ModelRegistry.Entry::repoId).orElse(name), revision, List.of("config.json"), OPTIONAL_FILES);
    }

    /** The folder's own tokenizer; GPT-2's bundled one for registry GPT-2 models whose folder has none. */
    private static HookedTransformer withTokenizer(HookedTransformer model, Path dir, Optional<ModelRegistry.Entry> entry)
            throws IOException {
        Optional<Tokenizer> own = Tokenizers.forModelFolder(dir);
        if (own.isPresent()) {
            return model.withTokenizer(own.get());
        }
        boolean gpt2 = entry.map(e -> e.repoId().startsWith("openai-community/gpt2") || e.repoId().equals("distilbert/distilgpt2"))
                .orElse(false); // another family's ids would be decoded as GPT-2's: better no tokenizer than a wrong one
        boolean fits = Gpt2Tokenizer.bundled().vocabSize() <= model.config().dVocab();
        return gpt2 && fits ? model.withTokenizer(Gpt2Tokenizer.bundled()) : model;
    }

    public static HookedTransformer loadFolder(String name, Path dir, LoadOptions options) throws IOException {
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new IOException("Cannot load " + name + " from " + dir + ": config.json is missing.");
        }
        JsonElement parsed;
        try {
            parsed = JsonParser.parseString(SavedModel.text(configFile));
        } catch (JsonParseException e) {
            throw new ModelFileException("Cannot load " + name + ": " + configFile + " is not valid JSON (" + e.getMessage() + ").");
        }
        if (!parsed.isJsonObject()) {
            throw new ModelFileException("Cannot load " + name + ": " + configFile + " is " + JsonValues.describe(parsed)
                    + ", not a JSON object.");
        }
        JsonObject json = parsed.getAsJsonObject();
        List<Path> weightFiles = HfWeights.files(dir);
        ModelConfig cfg;
        Map<String, NDArray> tl;
        if (!json.has("n_layers") && !json.has("model_type")) {
            throw new ModelFileException("Cannot load " + name + ": " + configFile + " has neither n_layers (a model Loupe"
                    + " saved) nor model_type (a Hugging Face checkpoint).");
        }
        if (json.has("n_layers")) { // saved by Loupe: already TransformerLens-named
            cfg = SavedModel.config(configFile);
            Map<String, Safetensors.Entry> entries = new LinkedHashMap<>();
            for (Path file : weightFiles) {
                entries.putAll(Safetensors.entries(file));
            }
            SavedModel.checkFits(cfg, configFile, entries, weightFiles.size() == 1 ? weightFiles.get(0) : dir);
            tl = readWeights(weightFiles);
        } else {
            ArchitectureConverter converter = converterFor(name, json);
            HfConfig hf = new HfConfig(json, configFile, converter.family().name());
            String family = converter.family().name();
            try {
                cfg = converter.config(name, hf);
            } catch (IllegalArgumentException invalid) { // sizes that cannot make a model: say which file holds them
                throw new ModelFileException(family + " checkpoint: " + configFile + " does not describe a model Loupe can"
                        + " build: " + invalid.getMessage());
            }
            Map<String, Path> fileOf = new LinkedHashMap<>();
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (Path file : weightFiles) {
                Map<String, NDArray> read;
                try {
                    read = Safetensors.read(file);
                } catch (ModelFileException damaged) {
                    throw new ModelFileException(family + " checkpoint " + name + ": " + damaged.getMessage());
                }
                read.keySet().forEach(t -> fileOf.put(t, file));
                tensors.putAll(read);
            }
            Path where = weightFiles.size() == 1 ? weightFiles.get(0) : dir.resolve("model.safetensors.index.json");
            // Converters compute too (Gemma's (1 + w), its embedding scale): in the model's precision, not the file's.
            tensors = inType(tensors, options.dtype());
            tl = converter.convert(cfg, hf, new HfWeights(tensors, fileOf, where, converter.family().name(),
                    converter.family().buffers()));
        }
        cfg = cfg.toBuilder().dtype(options.dtype()).build();
        tl = inType(tl, cfg.dtype()); // processing computes in the model's precision, not the file's (F16, BF16)
        ModelConfig processed = WeightProcessing.processedConfig(cfg, options);
        return HookedTransformer.fromStateDict(processed, WeightProcessing.process(cfg, tl, options));
    }

    /** Floating-point weights in this type, each original freed as soon as it is converted; other tensors as they are. */
    private static Map<String, NDArray> inType(Map<String, NDArray> weights, DataType type) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        weights.forEach((name, a) -> {
            if (a.getDataType() == type || !a.getDataType().isFloating()) {
                out.put(name, a);
            } else {
                out.put(name, a.toType(type, false));
                a.close();
            }
        });
        return out;
    }

    private static ArchitectureConverter converterFor(String name, JsonObject json) throws IOException {
        JsonElement type = json.get("model_type");
        for (ArchitectureConverter c : CONVERTERS) {
            if (type.isJsonPrimitive() && c.family().modelTypes().contains(type.getAsString())) {
                return c;
            }
        }
        throw new ModelFileException("Loupe cannot convert " + name + ": its config.json has model_type "
                + (type.isJsonPrimitive() ? "'" + type.getAsString() + "'" : JsonValues.describe(type)) + "; supported: "
                + supported() + ".");
    }

    /** The families Loupe reads, with their model_type values. */
    public static String supported() {
        StringBuilder s = new StringBuilder();
        for (ArchitectureConverter c : CONVERTERS) {
            s.append(s.length() == 0 ? "" : ", ").append(String.join(", ", c.family().modelTypes())).append(" (").append(c.family().name())
                    .append(')');
        }
        return s.toString();
    }

    private static Map<String, NDArray> readWeights(List<Path> files) throws IOException {
        Map<String, NDArray> all = new LinkedHashMap<>();
        for (Path file : files) {
            all.putAll(Safetensors.read(file));
        }
        return all;
    }
}
