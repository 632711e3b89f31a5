package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import dev.loupe.load.AtomicFiles;
import dev.loupe.load.ModelFileException;
import dev.loupe.load.Safetensors;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Harvested activations on disk, for SAE training to stream from ({@link ActivationStore#fromShards}): a folder of
 * safetensors shards and an {@value #INDEX} that lists them. A shard holds, for its tokens in corpus order, each hook
 * point's activation as F32 [tokens, width] under the hook's name, and {@code token_ids} (I32), {@code doc_ids} (I64,
 * the document in the corpus), {@code positions} (I32, in the window the model read: 0 is its first token, BOS where
 * there is one) and {@code doc_positions} (I32, in the document's tokens; -1 for a BOS the window put before them).
 * Shards are written whole or not at all; reading one checks every tensor against the others and the index.
 */
public final class ActivationShards {

    public static final String INDEX = "index.json";
    static final String FORMAT = "loupe-activation-shards";
    private static final String[] COLUMNS = {"token_ids", "doc_ids", "positions", "doc_positions"};

    private ActivationShards() {}

    /** One shard's rows: activations by hook point, row-major [tokens, width], and where each token came from. */
    public record Shard(Map<String, float[]> activations, int[] tokenIds, long[] docIds, int[] positions, int[] docPositions) {
        public int tokens() {
            return tokenIds.length;
        }

        public int width(String hook) {
            return activations.get(hook).length / tokens();
        }
    }

    /** A shard in the index: its file (in the folder) and its tokens. */
    public record Entry(String file, long tokens) implements java.io.Serializable {}

    /** The folder's index: which model and hook points (with their widths), the context length, and the shards. */
    public record Index(String model, int context, Map<String, Integer> hooks, List<Entry> shards) {
        public long tokens() {
            return shards.stream().mapToLong(Entry::tokens).sum();
        }
    }

    /**
     * Runs {@code windows} (one document's windows or many) and keeps the activations at {@code hooks}: window i comes
     * from document {@code docIds[i]} and starts at token {@code starts[i]} of it. Windows of one length next to each
     * other run as one batch of at most {@code windowsPerBatch}.
     */
    public static Shard harvest(HookedTransformer model, List<String> hooks, List<int[]> windows, long[] docIds, int[] starts,
                                boolean bos, int windowsPerBatch) {
        hooks.forEach(model::hookPoint); // an unknown hook fails here, with the closest names
        TokenCorpus corpus = TokenCorpus.of(windows);
        int n = (int) corpus.tokens();
        Map<String, float[]> acts = new LinkedHashMap<>();
        int[] tokenIds = new int[n];
        long[] docs = new long[n];
        int[] positions = new int[n];
        int[] docPositions = new int[n];
        int row = 0;
        int count;
        for (int first = 0; first < corpus.windows(); first += count) {
            int length = corpus.length(first);
            count = corpus.runFrom(first, windowsPerBatch);
            try (NDScope scope = new NDScope()) {
                NDArray tokens = corpus.batch(first, count);
                try (ActivationCache cache = model.runWithCacheUpTo(tokens, hooks::contains)) {
                    for (String hook : hooks) {
                        float[] a = Units.flat(cache.get(hook)).toType(DataType.FLOAT32, false).toFloatArray();
                        int width = a.length / (count * length);
                        float[] all = acts.computeIfAbsent(hook, h -> new float[Math.multiplyExact(n, width)]);
                        System.arraycopy(a, 0, all, row * width, a.length);
                    }
                }
                long[] ids = tokens.toLongArray();
                for (int i = 0; i < ids.length; i++) {
                    int w = first + i / length;
                    int p = i % length;
                    tokenIds[row + i] = (int) ids[i];
                    docs[row + i] = docIds[w];
                    positions[row + i] = p;
                    docPositions[row + i] = starts[w] + p - (bos ? 1 : 0);
                }
            }
            row += count * length;
        }
        return new Shard(acts, tokenIds, docs, positions, docPositions);
    }

    /** Writes a shard to {@code file}, whole or not at all. */
    public static void write(Path file, Shard shard) throws IOException {
        int n = shard.tokens();
        List<Safetensors.Source> sources = new ArrayList<>();
        for (Map.Entry<String, float[]> e : shard.activations().entrySet()) {
            float[] a = e.getValue();
            sources.add(new Safetensors.Source(e.getKey(), "F32", new long[] {n, a.length / Math.max(1, n)}, 4L * a.length,
                    out -> writeLittleEndian(out, a.length, 4, (buf, i) -> buf.putFloat(a[i]))));
        }
        sources.add(ints("token_ids", shard.tokenIds()));
        long[] docs = shard.docIds();
        sources.add(new Safetensors.Source("doc_ids", "I64", new long[] {n}, 8L * n,
                out -> writeLittleEndian(out, n, 8, (buf, i) -> buf.putLong(docs[i]))));
        sources.add(ints("positions", shard.positions()));
        sources.add(ints("doc_positions", shard.docPositions()));
        Safetensors.write(file, sources);
    }

    private static Safetensors.Source ints(String name, int[] v) {
        return new Safetensors.Source(name, "I32", new long[] {v.length}, 4L * v.length,
                out -> writeLittleEndian(out, v.length, 4, (buf, i) -> buf.putInt(v[i])));
    }

    private interface Put {
        void put(ByteBuffer buf, int i);
    }

    /** {@code n} values of {@code size} bytes through a small buffer: a shard's arrays are never copied whole. */
    private static void writeLittleEndian(java.io.OutputStream out, int n, int size, Put put) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            if (buf.remaining() < size) {
                out.write(buf.array(), 0, buf.position());
                buf.clear();
            }
            put.put(buf, i);
        }
        out.write(buf.array(), 0, buf.position());
    }

    /** Reads a shard, checking that every tensor is there, of its type, and of one length of tokens. */
    public static Shard read(Path file) throws IOException {
        Map<String, NDArray> tensors = Safetensors.read(file);
        try {
            NDArray ids = tensors.get("token_ids");
            if (ids == null) {
                throw bad(file, "it has no tensor token_ids; a shard holds " + String.join(", ", COLUMNS) + " and one per hook point");
            }
            long n = ids.getShape().get(0);
            Map<String, DataType> types = Map.of("token_ids", DataType.INT32, "doc_ids", DataType.INT64,
                    "positions", DataType.INT32, "doc_positions", DataType.INT32);
            for (String c : COLUMNS) {
                NDArray a = tensors.get(c);
                if (a == null || a.getDataType() != types.get(c) || !a.getShape().equals(new Shape(n))) {
                    throw bad(file, "tensor " + c + " is " + (a == null ? "missing" : a.getDataType() + " " + a.getShape())
                            + "; expected " + types.get(c) + " (" + n + ") like token_ids");
                }
            }
            int[] positions = tensors.get("positions").toIntArray();
            for (int t = 0; t < positions.length; t++) {
                // each window's positions run 0, 1, 2, ...: the store leaves out position 0 by them
                if (positions[t] != 0 && (t == 0 || positions[t] != positions[t - 1] + 1)) {
                    throw bad(file, "positions[" + t + "] is " + positions[t] + " after " + (t == 0 ? "nothing" : positions[t - 1])
                            + "; each window's positions run 0, 1, 2, ...");
                }
            }
            Map<String, float[]> acts = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
                if (List.of(COLUMNS).contains(e.getKey())) {
                    continue;
                }
                Shape s = e.getValue().getShape();
                if (e.getValue().getDataType() != DataType.FLOAT32 || s.dimension() != 2 || s.get(0) != n) {
                    throw bad(file, "activations " + e.getKey() + " are " + e.getValue().getDataType() + " " + s
                            + "; expected float32 (" + n + ", width): one row per token");
                }
                acts.put(e.getKey(), e.getValue().toFloatArray());
            }
            return new Shard(acts, tensors.get("token_ids").toIntArray(), tensors.get("doc_ids").toLongArray(),
                    positions, tensors.get("doc_positions").toIntArray());
        } finally {
            tensors.values().forEach(NDArray::close);
        }
    }

    /** Writes the folder's index, whole or not at all. */
    public static void writeIndex(Path dir, Index index) throws IOException {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("format", FORMAT);
        json.put("version", 1);
        json.put("model", index.model());
        json.put("context", index.context());
        json.put("hooks", index.hooks());
        json.put("tokens", index.tokens());
        json.put("shards", index.shards());
        Gson gson = new GsonBuilder().setPrettyPrinting().create();
        byte[] bytes = gson.toJson(json).getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(dir.resolve(INDEX), out -> out.write(bytes));
    }

    /** Reads a folder's index, checking its fields and that every shard it lists is there. */
    public static Index index(Path dir) throws IOException {
        Path file = dir.resolve(INDEX);
        if (!Files.isRegularFile(file)) {
            throw new ModelFileException("No " + INDEX + " in " + dir + ": not a folder of harvested activations"
                    + " (./loupe spark harvest writes one)");
        }
        try {
            String text;
            try {
                text = Files.readString(file);
            } catch (CharacterCodingException e) {
                throw bad(file, "it is not UTF-8 text");
            }
            JsonObject o = JsonParser.parseString(text).getAsJsonObject();
            if (!FORMAT.equals(o.get("format").getAsString()) || o.get("version").getAsInt() != 1) {
                throw bad(file, "format " + o.get("format") + " version " + o.get("version") + "; expected " + FORMAT + " version 1");
            }
            Map<String, Integer> hooks = new LinkedHashMap<>();
            o.getAsJsonObject("hooks").entrySet().forEach(e -> hooks.put(e.getKey(), e.getValue().getAsInt()));
            List<Entry> shards = new ArrayList<>();
            for (var e : o.getAsJsonArray("shards")) {
                Entry entry = new Entry(e.getAsJsonObject().get("file").getAsString(), e.getAsJsonObject().get("tokens").getAsLong());
                Path shard = dir.resolve(entry.file()).normalize();
                if (!shard.getParent().equals(dir.normalize()) || !Files.isRegularFile(shard)) {
                    throw bad(file, "shard " + entry.file() + " is not a file in " + dir);
                }
                shards.add(entry);
            }
            return new Index(o.get("model").getAsString(), o.get("context").getAsInt(), hooks, shards);
        } catch (JsonParseException | IllegalStateException | UnsupportedOperationException | NullPointerException
                 | ClassCastException | NumberFormatException e) {
            throw bad(file, "it is not an index of shards (" + e.getMessage() + ")");
        }
    }

    private static ModelFileException bad(Path file, String what) {
        return new ModelFileException("Bad activation shard file " + file + ": " + what + ".");
    }
}
