package dev.loupe.tokenize;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.zip.GZIPInputStream;

/**
 * GPT-2's byte-level BPE tokenizer, in Java. Encoding splits the text on {@code <|endoftext|>} (one special
 * token wherever it appears, as in Hugging Face's GPT-2 tokenizer), cuts each piece into pre-tokens with
 * GPT-2's regex (words with their leading space, numbers, punctuation runs, whitespace), writes each
 * pre-token's UTF-8 bytes as vocabulary characters ({@link ByteLevel}) and merges them by rank
 * ({@link BpeMerges}). Pre-tokens repeat a lot in text, so their ids are cached.
 *
 * <p>BOS, EOS and PAD are all {@code <|endoftext|>} (50256), as TransformerLens sets them for GPT-2.
 */
public final class Gpt2Tokenizer implements Tokenizer {

    /** GPT-2's pre-tokenizer; {@code \s} must mean Unicode White_Space, as in Hugging Face's regex engine. */
    private static final Pattern PRE_TOKEN = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);
    static final String END_OF_TEXT = "<|endoftext|>";
    /** Enough for the distinct words of a large corpus; past it words are merged afresh each time. */
    private static final int CACHE_LIMIT = 100_000;
    private static final String BUNDLED = "gpt2/";
    /** Ids index an array, so an absurd one is refused rather than allocated. */
    private static final int MAX_ID = 10_000_000;

    private static Gpt2Tokenizer bundled;

    private final String[] tokens; // indexed by id; null where no token has that id
    private final int[] byteIds = new int[256];
    private final BpeMerges merges;
    private final int endOfText; // -1 when the vocabulary has no <|endoftext|>
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private Gpt2Tokenizer(String[] tokens, Map<String, Integer> vocab, BpeMerges merges) {
        this.tokens = tokens;
        this.merges = merges;
        for (int b = 0; b < 256; b++) {
            byteIds[b] = vocab.get(String.valueOf(ByteLevel.charOf(b)));
        }
        endOfText = vocab.getOrDefault(END_OF_TEXT, -1);
    }

    // ---------------------------------------------------------------- loading

    /** GPT-2's own vocabulary (50,257 tokens, 50,000 merges), shipped inside Loupe's jar. Shared; thread-safe. */
    public static synchronized Gpt2Tokenizer bundled() {
        if (bundled == null) {
            try (Reader vocab = gzipResource("encoder.json.gz"); Reader merges = gzipResource("vocab.bpe.gz")) {
                bundled = load("bundled " + BUNDLED + "encoder.json.gz", vocab, "bundled " + BUNDLED + "vocab.bpe.gz",
                        merges);
            } catch (IOException e) {
                throw new UncheckedIOException("Loupe's bundled GPT-2 vocabulary cannot be read", e);
            }
        }
        return bundled;
    }

    /**
     * A byte-level BPE tokenizer from Hugging Face's {@code vocab.json} and {@code merges.txt} (or OpenAI's
     * {@code encoder.json} and {@code vocab.bpe}, the same formats). A {@code #version} first line in the
     * merges is skipped. {@code <|endoftext|>}, when in the vocabulary, is the special, BOS, EOS and PAD token.
     *
     * @throws IOException naming the file, if one is missing, truncated or not in the expected format
     */
    public static Gpt2Tokenizer fromFiles(Path vocabJson, Path mergesTxt) throws IOException {
        TokenizerFiles.require(vocabJson,
                "a JSON object of token → id (Hugging Face's vocab.json or OpenAI's encoder.json)");
        TokenizerFiles.require(mergesTxt,
                "BPE merges, one 'left right' pair a line (Hugging Face's merges.txt or OpenAI's vocab.bpe)");
        try (Reader vocab = Files.newBufferedReader(vocabJson, StandardCharsets.UTF_8);
             Reader merges = Files.newBufferedReader(mergesTxt, StandardCharsets.UTF_8)) {
            return load(vocabJson.toString(), vocab, mergesTxt.toString(), merges);
        }
    }

    private static Reader gzipResource(String name) throws IOException {
        InputStream in = Gpt2Tokenizer.class.getResourceAsStream(BUNDLED + name);
        if (in == null) {
            throw new IOException("dev/loupe/tokenize/" + BUNDLED + name + " is not on the class path"
                    + " (was Loupe's jar built without its resources?)");
        }
        return new InputStreamReader(new GZIPInputStream(in), StandardCharsets.UTF_8);
    }

    private static Gpt2Tokenizer load(String vocabName, Reader vocabReader, String mergesName, Reader mergesReader)
            throws IOException {
        Map<String, Integer> vocab = readVocab(vocabName, vocabReader);
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        if (maxId >= MAX_ID) {
            throw TokenizerFiles.corrupt(vocabName, "it has the id " + maxId + ", far beyond any real vocabulary");
        }
        String[] tokens = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            String other = tokens[e.getValue()];
            if (other != null) {
                throw TokenizerFiles.corrupt(vocabName,
                        "tokens '" + other + "' and '" + e.getKey() + "' both have id " + e.getValue());
            }
            tokens[e.getValue()] = e.getKey();
        }
        for (int b = 0; b < 256; b++) {
            if (!vocab.containsKey(String.valueOf(ByteLevel.charOf(b)))) {
                throw TokenizerFiles.corrupt(vocabName, String.format("it has no token for byte 0x%02X ('%c'); expected"
                        + " a byte-level BPE vocabulary with one token for each of the 256 bytes", b, ByteLevel.charOf(b)));
            }
        }
        BpeMerges merges = readMerges(mergesName, mergesReader, vocabName, vocab);
        return new Gpt2Tokenizer(tokens, vocab, merges);
    }

    private static Map<String, Integer> readVocab(String name, Reader reader) throws IOException {
        Map<String, Integer> vocab = new HashMap<>();
        try {
            JsonReader json = new JsonReader(reader);
            json.beginObject();
            while (json.hasNext()) {
                String token = json.nextName();
                vocab.put(token, json.nextInt());
            }
            json.endObject();
            if (json.peek() != JsonToken.END_DOCUMENT) {
                throw new IllegalStateException("more follows the JSON object");
            }
        } catch (IllegalStateException | NumberFormatException | MalformedJsonException | EOFException e) {
            throw TokenizerFiles.corrupt(name, "expected a JSON object of token → id, but the file is not one, or is"
                    + " truncated (" + e.getMessage() + ")");
        }
        if (vocab.isEmpty()) {
            throw TokenizerFiles.corrupt(name, "the vocabulary is empty");
        }
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (e.getValue() < 0) {
                throw TokenizerFiles.corrupt(name, "token '" + e.getKey() + "' has the negative id " + e.getValue());
            }
        }
        return vocab;
    }

    private static BpeMerges readMerges(String name, Reader reader, String vocabName, Map<String, Integer> vocab)
            throws IOException {
        List<int[]> pairs = new ArrayList<>(); // {left, right, merged}
        Set<String> made = new HashSet<>();
        BufferedReader lines = new BufferedReader(reader);
        String line;
        for (int n = 1; (line = lines.readLine()) != null; n++) {
            if (line.startsWith("#version") || line.isEmpty()) {
                continue;
            }
            int space = line.indexOf(' ');
            if (space <= 0 || space == line.length() - 1 || line.indexOf(' ', space + 1) >= 0) {
                throw TokenizerFiles.corrupt(name, "line " + n + " is '" + shorten(line)
                        + "'; expected two tokens separated by one space"
                        + (line.indexOf(' ') < 0 ? " (is the file truncated?)" : ""));
            }
            String left = line.substring(0, space);
            String right = line.substring(space + 1);
            String joined = left + right;
            for (String t : new String[] {left, right, joined}) {
                if (!vocab.containsKey(t)) {
                    throw TokenizerFiles.corrupt(name, "line " + n + " merges '" + left + "' and '" + right + "', but "
                            + vocabName + " has no token '" + t + "' (is the file truncated, or do the two files not"
                            + " belong together?)");
                }
            }
            pairs.add(new int[] {vocab.get(left), vocab.get(right), vocab.get(joined)});
            made.add(joined);
        }
        if (pairs.isEmpty()) {
            throw TokenizerFiles.corrupt(name, "it holds no merges");
        }
        // A merges file cut at a line break still parses; but every token of a byte-level vocabulary longer
        // than one byte, bar special tokens like <|endoftext|>, is made by some merge.
        List<String> unmade = new ArrayList<>();
        for (String token : vocab.keySet()) {
            if (token.length() > 1 && !made.contains(token) && !(token.startsWith("<") && token.endsWith(">"))) {
                unmade.add(token);
            }
        }
        if (!unmade.isEmpty()) {
            unmade.sort((a, b) -> Integer.compare(vocab.get(a), vocab.get(b)));
            throw TokenizerFiles.corrupt(name, "it has " + pairs.size() + " merges, but " + unmade.size() + " tokens of "
                    + vocabName + " are made by none of them, from '" + unmade.get(0) + "' (id " + vocab.get(unmade.get(0))
                    + "); the merges file looks truncated, or belongs to another vocabulary");
        }
        int[] left = new int[pairs.size()];
        int[] right = new int[pairs.size()];
        int[] merged = new int[pairs.size()];
        for (int rank = 0; rank < pairs.size(); rank++) {
            left[rank] = pairs.get(rank)[0];
            right[rank] = pairs.get(rank)[1];
            merged[rank] = pairs.get(rank)[2];
        }
        return new BpeMerges(left, right, merged);
    }

    private static String shorten(String line) {
        return line.length() <= 80 ? line : line.substring(0, 80) + "…";
    }

    // ---------------------------------------------------------------- encoding and decoding

    @Override
    public int[] encode(String text) {
        IntStream.Builder ids = IntStream.builder();
        int start = 0;
        if (endOfText >= 0) {
            for (int at; (at = text.indexOf(END_OF_TEXT, start)) >= 0; start = at + END_OF_TEXT.length()) {
                encodeOrdinary(text, start, at, ids);
                ids.add(endOfText);
            }
        }
        encodeOrdinary(text, start, text.length(), ids);
        return ids.build().toArray();
    }

    /** Text with no special tokens; the regex sees only {@code [start, end)}, as if it were the whole text. */
    private void encodeOrdinary(String text, int start, int end, IntStream.Builder out) {
        Matcher m = PRE_TOKEN.matcher(text).region(start, end);
        while (m.find()) {
            for (int id : bpe(m.group())) {
                out.add(id);
            }
        }
    }

    private int[] bpe(String preToken) {
        int[] ids = cache.get(preToken);
        if (ids == null) {
            // A lone surrogate, which is no character, becomes '?' here.
            byte[] bytes = preToken.getBytes(StandardCharsets.UTF_8);
            int[] start = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                start[i] = byteIds[bytes[i] & 0xFF];
            }
            ids = merges.apply(start);
            if (cache.size() < CACHE_LIMIT) {
                cache.put(preToken, ids);
            }
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            bytes.writeBytes(ByteLevel.toBytes(token(id)));
        }
        // Bytes that are not valid UTF-8 (a character cut between tokens) decode to U+FFFD.
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Override
    public String tokenString(int id) {
        return decode(new int[] {id});
    }

    /** The token as the vocabulary file writes it, in byte-level characters: {@code "ĠMary"} for 5335. */
    public String vocabToken(int id) {
        return token(id);
    }

    private String token(int id) {
        if (id < 0 || id >= tokens.length || tokens[id] == null) {
            throw new IllegalArgumentException("Token id " + id + " is not in the vocabulary (ids 0.."
                    + (tokens.length - 1) + ")");
        }
        return tokens[id];
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    @Override
    public OptionalInt bosTokenId() {
        return endOfText >= 0 ? OptionalInt.of(endOfText) : OptionalInt.empty();
    }

    @Override
    public OptionalInt eosTokenId() {
        return bosTokenId();
    }

    @Override
    public OptionalInt padTokenId() {
        return bosTokenId();
    }

    @Override
    public String toString() {
        return "Gpt2Tokenizer[" + tokens.length + " tokens, " + merges.size() + " merges]";
    }
}
