package dev.loupe.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;

import java.io.EOFException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * Any model's Hugging Face {@code tokenizer.json}, run by Hugging Face's own Rust tokenizers library (through
 * DJL, which bundles the native library; nothing is downloaded). Built with no special tokens added, no
 * truncation and no padding, so {@link #encode} gives exactly the text's tokens.
 *
 * <p>BOS, EOS and PAD come from {@code tokenizer_config.json} and then {@code special_tokens_map.json} beside
 * the file, where present. Where they name none, TransformerLens's defaults apply: EOS is
 * {@code <|endoftext|>} if the vocabulary has it, and PAD and BOS fall back to EOS. A config that sets
 * {@code "bos_token": null} says the family has no BOS (Qwen): then there is none, and models do not prepend one.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {

    private static final List<String> SPECIAL_KEYS = List.of("bos_token", "eos_token", "pad_token");
    /** Marks a config whose bos_token is explicitly null. */
    private static final String NO_BOS = "no bos_token";

    private final HuggingFaceTokenizer hf;
    private final Path file;
    private final int vocabSize;
    private final OptionalInt bos;
    private final OptionalInt eos;
    private final OptionalInt pad;

    private HfTokenizer(HuggingFaceTokenizer hf, Path file, int vocabSize, Integer bos, Integer eos, Integer pad) {
        this.hf = hf;
        this.file = file;
        this.vocabSize = vocabSize;
        this.bos = bos == null ? OptionalInt.empty() : OptionalInt.of(bos);
        this.eos = eos == null ? OptionalInt.empty() : OptionalInt.of(eos);
        this.pad = pad == null ? OptionalInt.empty() : OptionalInt.of(pad);
    }

    /**
     * Loads {@code tokenizerJson}, and the special tokens from the config files in its folder.
     *
     * @throws IOException naming the file, if a file is missing, not valid JSON, or names a token that the
     *     vocabulary lacks, or if Hugging Face's library rejects the tokenizer
     */
    public static HfTokenizer fromFile(Path tokenizerJson) throws IOException {
        TokenizerFiles.require(tokenizerJson, "Hugging Face's tokenizer.json");
        Map<String, Named> named = specialTokenNames(tokenizerJson.toAbsolutePath().getParent());
        Map<String, Integer> wanted = new HashMap<>();
        named.values().forEach(n -> wanted.put(n.content, null));
        wanted.put(Gpt2Tokenizer.END_OF_TEXT, null);
        int vocabSize = scanVocabulary(tokenizerJson, wanted);

        Integer[] ids = new Integer[SPECIAL_KEYS.size()];
        for (int i = 0; i < ids.length; i++) {
            Named n = named.get(SPECIAL_KEYS.get(i));
            if (n != null) {
                ids[i] = wanted.get(n.content);
                if (ids[i] == null) {
                    throw TokenizerFiles.corrupt(n.file, SPECIAL_KEYS.get(i) + " is '" + n.content
                            + "', which is not a token of " + tokenizerJson);
                }
            }
        }
        Integer eos = ids[1] != null ? ids[1] : wanted.get(Gpt2Tokenizer.END_OF_TEXT);
        Integer bos = ids[0] != null ? ids[0] : named.containsKey(NO_BOS) ? null : eos;
        Integer pad = ids[2] != null ? ids[2] : eos;

        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson).optAddSpecialTokens(false)
                    .optTruncation(false).optPadding(false).build();
        } catch (RuntimeException e) {
            throw TokenizerFiles.corrupt(tokenizerJson,
                    "Hugging Face's tokenizers library rejected it (" + e.getMessage() + ")");
        }
        return new HfTokenizer(hf, tokenizerJson, vocabSize, bos, eos, pad);
    }

    private record Named(String content, Path file) {}

    /** The special tokens' texts by key; special_tokens_map.json is read second, so it wins where both name one. */
    private static Map<String, Named> specialTokenNames(Path dir) throws IOException {
        Map<String, Named> named = new LinkedHashMap<>();
        for (String name : List.of("tokenizer_config.json", "special_tokens_map.json")) {
            Path file = dir.resolve(name);
            if (!Files.isRegularFile(file)) {
                continue;
            }
            JsonObject config;
            try {
                config = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
            } catch (JsonParseException | IllegalStateException e) {
                throw TokenizerFiles.corrupt(file, "expected a JSON object (" + e.getMessage() + ")");
            }
            for (String key : SPECIAL_KEYS) {
                JsonElement value = config.get(key);
                if (value != null && value.isJsonNull() && key.equals("bos_token")) {
                    named.put(NO_BOS, new Named("", file));
                }
                if (value == null || value.isJsonNull()) {
                    continue;
                }
                // A plain string, or an AddedToken written out as an object with its "content".
                JsonElement content = value.isJsonObject() ? value.getAsJsonObject().get("content") : value;
                if (content == null || !content.isJsonPrimitive() || !content.getAsJsonPrimitive().isString()) {
                    throw TokenizerFiles.corrupt(file, key + " is " + value + "; expected a string or an object"
                            + " with a \"content\" string");
                }
                named.put(key, new Named(content.getAsString(), file));
            }
        }
        return named;
    }

    /**
     * Streams through tokenizer.json (large vocabularies make it tens of MB) for the model's vocabulary and
     * the added tokens: returns one more than the largest id, and fills in the ids of the {@code wanted} tokens.
     */
    private static int scanVocabulary(Path file, Map<String, Integer> wanted) throws IOException {
        int maxId = -1;
        boolean sawModelVocab = false;
        Map<String, Integer> added = new HashMap<>();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonReader json = new JsonReader(reader);
            json.beginObject();
            while (json.hasNext()) {
                String name = json.nextName();
                if (name.equals("added_tokens") && json.peek() == JsonToken.BEGIN_ARRAY) {
                    json.beginArray();
                    while (json.hasNext()) {
                        Integer id = null;
                        String content = null;
                        json.beginObject();
                        while (json.hasNext()) {
                            switch (json.nextName()) {
                                case "id" -> id = json.nextInt();
                                case "content" -> content = json.nextString();
                                default -> json.skipValue();
                            }
                        }
                        json.endObject();
                        if (id == null || content == null) {
                            throw TokenizerFiles.corrupt(file,
                                    "an entry of \"added_tokens\" lacks its \"id\" or \"content\"");
                        }
                        added.put(content, id);
                        maxId = Math.max(maxId, id);
                    }
                    json.endArray();
                } else if (name.equals("model") && json.peek() == JsonToken.BEGIN_OBJECT) {
                    json.beginObject();
                    while (json.hasNext()) {
                        if (json.nextName().equals("vocab")) {
                            maxId = Math.max(maxId, scanModelVocab(json, wanted));
                            sawModelVocab = true;
                        } else {
                            json.skipValue();
                        }
                    }
                    json.endObject();
                } else {
                    json.skipValue();
                }
            }
            json.endObject();
        } catch (IllegalStateException | NumberFormatException | MalformedJsonException | EOFException e) {
            throw TokenizerFiles.corrupt(file, "expected Hugging Face's tokenizer JSON, but it is not valid JSON or is"
                    + " truncated (" + e.getMessage() + ")");
        }
        if (!sawModelVocab) {
            throw TokenizerFiles.corrupt(file,
                    "it has no \"model\" with a \"vocab\"; expected Hugging Face's tokenizer JSON");
        }
        // An added token keeps its own id, whatever the model's vocabulary says.
        for (Map.Entry<String, Integer> e : added.entrySet()) {
            if (wanted.containsKey(e.getKey())) {
                wanted.put(e.getKey(), e.getValue());
            }
        }
        return maxId + 1;
    }

    /** The model's vocabulary: {token: id} for BPE, WordPiece and WordLevel; [[piece, score], …] for Unigram. */
    private static int scanModelVocab(JsonReader json, Map<String, Integer> wanted) throws IOException {
        int maxId = -1;
        if (json.peek() == JsonToken.BEGIN_ARRAY) {
            json.beginArray();
            for (int id = 0; json.hasNext(); id++) {
                json.beginArray();
                String piece = json.nextString();
                while (json.hasNext()) {
                    json.skipValue();
                }
                json.endArray();
                if (wanted.containsKey(piece)) {
                    wanted.put(piece, id);
                }
                maxId = id;
            }
            json.endArray();
        } else {
            json.beginObject();
            while (json.hasNext()) {
                String token = json.nextName();
                int id = json.nextInt();
                if (wanted.containsKey(token)) {
                    wanted.put(token, id);
                }
                maxId = Math.max(maxId, id);
            }
            json.endObject();
        }
        return maxId;
    }

    // ---------------------------------------------------------------- Tokenizer

    @Override
    public int[] encode(String text) {
        long[] ids = hf.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException("Token id " + ids[i] + " is not in the vocabulary (ids 0.."
                        + (vocabSize - 1) + ")");
            }
            longs[i] = ids[i];
        }
        return hf.decode(longs, false);
    }

    @Override
    public String tokenString(int id) {
        return decode(new int[] {id});
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public OptionalInt bosTokenId() {
        return bos;
    }

    @Override
    public OptionalInt eosTokenId() {
        return eos;
    }

    @Override
    public OptionalInt padTokenId() {
        return pad;
    }

    /** Frees the native tokenizer; the tokenizer cannot be used after. */
    @Override
    public void close() {
        hf.close();
    }

    @Override
    public String toString() {
        return "HfTokenizer[" + file + ", " + vocabSize + " tokens]";
    }
}
