package dev.loupe.tokenize;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** GPT-2's vocabulary as files, the way a model folder holds them, and the JavaScript reference cases. */
public final class Gpt2TestFiles {

    private Gpt2TestFiles() {}

    /** A text, its ids and its per-token strings, from gpt2_reference.json (see lib/src/test/tokenize-reference). */
    record Case(String text, int[] ids, List<String> tokens) {}

    static byte[] bundled(String name) {
        try (InputStream in = Gpt2TestFiles.class.getResourceAsStream("/dev/loupe/tokenize/gpt2/" + name + ".gz")) {
            return new GZIPInputStream(in).readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Hugging Face's vocab.json and merges.txt: the same bytes as OpenAI's encoder.json and vocab.bpe. */
    public static void writeVocabAndMerges(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.write(dir.resolve("vocab.json"), bundled("encoder.json"));
        Files.write(dir.resolve("merges.txt"), bundled("vocab.bpe"));
    }

    /**
     * A tokenizer.json for GPT-2 as Hugging Face writes one: a BPE model over the same vocabulary and merges,
     * byte-level pre-tokenizer, post-processor and decoder, and {@code <|endoftext|>} as an added special token.
     */
    public static Path writeTokenizerJson(Path dir) throws IOException {
        JsonArray merges = new JsonArray();
        for (String line : new String(bundled("vocab.bpe"), StandardCharsets.UTF_8).split("\n")) {
            if (!line.isEmpty() && !line.startsWith("#version")) {
                merges.add(line);
            }
        }
        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", null);
        model.add("unk_token", null);
        model.addProperty("continuing_subword_prefix", "");
        model.addProperty("end_of_word_suffix", "");
        model.addProperty("fuse_unk", false);
        model.addProperty("byte_fallback", false);
        model.add("vocab", JsonParser.parseString(new String(bundled("encoder.json"), StandardCharsets.UTF_8)));
        model.add("merges", merges);

        JsonObject endOfText = new JsonObject();
        endOfText.addProperty("id", 50256);
        endOfText.addProperty("content", "<|endoftext|>");
        endOfText.addProperty("single_word", false);
        endOfText.addProperty("lstrip", false);
        endOfText.addProperty("rstrip", false);
        endOfText.addProperty("normalized", true);
        endOfText.addProperty("special", true);
        JsonArray added = new JsonArray();
        added.add(endOfText);

        JsonObject json = new JsonObject();
        json.addProperty("version", "1.0");
        json.add("truncation", null);
        json.add("padding", null);
        json.add("added_tokens", added);
        json.add("normalizer", null);
        json.add("pre_tokenizer", byteLevel(false, true));
        json.add("post_processor", byteLevel(true, false));
        json.add("decoder", byteLevel(true, true));
        json.add("model", model);

        Gson gson = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
        Files.createDirectories(dir);
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, gson.toJson(json), StandardCharsets.UTF_8);
        return file;
    }

    private static JsonObject byteLevel(boolean addPrefixSpace, boolean trimOffsets) {
        JsonObject o = new JsonObject();
        o.addProperty("type", "ByteLevel");
        o.addProperty("add_prefix_space", addPrefixSpace);
        o.addProperty("trim_offsets", trimOffsets);
        o.addProperty("use_regex", true);
        return o;
    }

    /** The cases where the JavaScript encoder is right. */
    static List<Case> jsReference() throws IOException {
        return jsCases("cases");
    }

    /** The few texts where the JavaScript encoder's regex gives other ids than Hugging Face's; no token strings. */
    static List<Case> jsDiffersFromHuggingFace() throws IOException {
        return jsCases("js_differs_from_hf");
    }

    private static List<Case> jsCases(String key) throws IOException {
        try (InputStream in = Gpt2TestFiles.class.getResourceAsStream("/dev/loupe/tokenize/gpt2_reference.json")) {
            JsonObject doc = JsonParser.parseReader(new InputStreamReader(in, StandardCharsets.UTF_8)).getAsJsonObject();
            List<Case> cases = new ArrayList<>();
            for (var element : doc.getAsJsonArray(key)) {
                JsonObject c = element.getAsJsonObject();
                JsonArray ids = c.getAsJsonArray("ids");
                int[] idArray = new int[ids.size()];
                for (int i = 0; i < idArray.length; i++) {
                    idArray[i] = ids.get(i).getAsInt();
                }
                List<String> tokens = new ArrayList<>();
                if (c.has("tokens")) {
                    c.getAsJsonArray("tokens").forEach(t -> tokens.add(t.getAsString()));
                }
                cases.add(new Case(c.get("text").getAsString(), idArray, tokens));
            }
            return cases;
        }
    }
}
