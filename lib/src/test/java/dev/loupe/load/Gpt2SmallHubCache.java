package dev.loupe.load;

import com.google.gson.Gson;

import dev.loupe.tokenize.Gpt2TestFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * GPT-2 small as the hub serves openai-community/gpt2, with random weights: the published config.json, vocabulary and
 * tokenizer files, and a model.safetensors with GPT-2's tensor names, shapes and layout (Conv1D weights [in, out],
 * fused c_attn, the causal-mask buffers h.N.attn.bias, no lm_head since the unembedding is tied), float32, drawn with
 * GPT-2's initialisation from a fixed seed. It is written into a Hugging Face cache in the hub's layout, so that
 * {@code fromPretrained("gpt2")} with {@code HF_HUB_OFFLINE=1 HF_HUB_CACHE=DIR} loads it as it would the real model.
 * The snapshot's commit is derived from the files' contents: a notebook that prints the commit and the weights' sha256
 * shows that it ran on this, not on GPT-2.
 *
 * <p>From the shell: {@code java -cp lib/target/test-classes:$(cat target/classpath.txt) dev.loupe.load.Gpt2SmallHubCache DIR}
 */
public final class Gpt2SmallHubCache {

    static final String REPO = "openai-community/gpt2";
    static final int LAYERS = 12;
    static final int D_MODEL = 768;
    static final int VOCAB = 50257;
    static final int CTX = 1024;
    static final long SEED = 0;

    /** GPT-2 small's config.json as published (no tie_word_embeddings: transformers' default, tied, applies). */
    static final String CONFIG = """
            {
              "activation_function": "gelu_new",
              "architectures": [
                "GPT2LMHeadModel"
              ],
              "attn_pdrop": 0.1,
              "bos_token_id": 50256,
              "embd_pdrop": 0.1,
              "eos_token_id": 50256,
              "initializer_range": 0.02,
              "layer_norm_epsilon": 1e-05,
              "model_type": "gpt2",
              "n_ctx": 1024,
              "n_embd": 768,
              "n_head": 12,
              "n_layer": 12,
              "n_positions": 1024,
              "resid_pdrop": 0.1,
              "summary_activation": null,
              "summary_first_dropout": 0.1,
              "summary_proj_to_labels": true,
              "summary_type": "cls_index",
              "summary_use_proj": true,
              "task_specific_params": {
                "text-generation": {
                  "do_sample": true,
                  "max_length": 50
                }
              },
              "vocab_size": 50257
            }\
            """;

    private static final String TOKENIZER_CONFIG = "{\"model_max_length\": 1024}";

    private Gpt2SmallHubCache() {}

    enum Init { NORMAL, ZEROS, ONES, CAUSAL_MASK }

    /**
     * One tensor of model.safetensors; {@code std} is its normal's for {@link Init#NORMAL}. Its values come from a
     * generator seeded by its name, so that each can be drawn again alone.
     */
    record Tensor(String name, Init init, double std, long... shape) {

        long size() {
            return Arrays.stream(shape).reduce(1, Math::multiplyExact);
        }

        /** Its values in row-major order, drawn afresh on each call: the same every time. */
        Values values() {
            return new Values(this);
        }
    }

    /** A tensor's values, a chunk at a time. */
    static final class Values {
        private final Tensor tensor;
        private final SplittableRandom random;
        private long next;

        private Values(Tensor tensor) {
            this.tensor = tensor;
            this.random = new SplittableRandom(SEED + tensor.name().hashCode());
        }

        /** Fills {@code into} with the next values. */
        void fill(float[] into) {
            for (int i = 0; i < into.length; i++, next++) {
                into[i] = switch (tensor.init()) {
                    case NORMAL -> (float) (tensor.std() * random.nextGaussian());
                    case ZEROS -> 0f;
                    case ONES -> 1f;
                    case CAUSAL_MASK -> next % CTX <= next / CTX % CTX ? 1f : 0f; // key <= query
                };
            }
        }

        float[] all() {
            float[] values = new float[Math.toIntExact(tensor.size())];
            fill(values);
            return values;
        }
    }

    /**
     * The tensors in file order (by name, as the safetensors library writes them), with Hugging Face's GPT-2
     * initialisation: normal(0, 0.02) for embeddings and weights, 0.02 / sqrt(2 n_layer) for the residual
     * projections (c_proj), zero biases, unit layer norms; the attention buffers are the causal mask.
     */
    static List<Tensor> tensors() {
        double std = 0.02;
        double residual = std / Math.sqrt(2 * LAYERS);
        List<Tensor> tensors = new ArrayList<>(List.of(new Tensor("wte.weight", Init.NORMAL, std, VOCAB, D_MODEL),
                new Tensor("wpe.weight", Init.NORMAL, std, CTX, D_MODEL),
                new Tensor("ln_f.weight", Init.ONES, 0, D_MODEL), new Tensor("ln_f.bias", Init.ZEROS, 0, D_MODEL)));
        for (int l = 0; l < LAYERS; l++) {
            String h = "h." + l + ".";
            for (String ln : List.of("ln_1", "ln_2")) {
                tensors.add(new Tensor(h + ln + ".weight", Init.ONES, 0, D_MODEL));
                tensors.add(new Tensor(h + ln + ".bias", Init.ZEROS, 0, D_MODEL));
            }
            tensors.add(new Tensor(h + "attn.bias", Init.CAUSAL_MASK, 0, 1, 1, CTX, CTX));
            tensors.add(new Tensor(h + "attn.c_attn.weight", Init.NORMAL, std, D_MODEL, 3 * D_MODEL));
            tensors.add(new Tensor(h + "attn.c_attn.bias", Init.ZEROS, 0, 3 * D_MODEL));
            tensors.add(new Tensor(h + "attn.c_proj.weight", Init.NORMAL, residual, D_MODEL, D_MODEL));
            tensors.add(new Tensor(h + "attn.c_proj.bias", Init.ZEROS, 0, D_MODEL));
            tensors.add(new Tensor(h + "mlp.c_fc.weight", Init.NORMAL, std, D_MODEL, 4 * D_MODEL));
            tensors.add(new Tensor(h + "mlp.c_fc.bias", Init.ZEROS, 0, 4 * D_MODEL));
            tensors.add(new Tensor(h + "mlp.c_proj.weight", Init.NORMAL, residual, 4 * D_MODEL, D_MODEL));
            tensors.add(new Tensor(h + "mlp.c_proj.bias", Init.ZEROS, 0, D_MODEL));
        }
        tensors.sort(Comparator.comparing(Tensor::name));
        return tensors;
    }

    /**
     * Writes the repository into {@code cache}: {@code models--openai-community--gpt2/blobs/NAME} (the sha256 of
     * model.safetensors, which the hub keeps in LFS; git's blob id for the files kept in git),
     * {@code snapshots/COMMIT/FILE} as relative links to {@code ../../blobs/NAME}, and {@code refs/main} naming
     * COMMIT, last, so that a reader never finds a snapshot half-written. Returns the snapshot folder.
     */
    public static Path write(Path cache) throws IOException {
        Path repo = cache.resolve("models--" + REPO.replace("/", "--"));
        Path blobs = Files.createDirectories(repo.resolve("blobs"));
        Map<String, String> blobOf = new TreeMap<>();
        Path staging = Files.createTempDirectory(blobs, ".staging");
        try {
            Files.writeString(staging.resolve("config.json"), CONFIG);
            Files.writeString(staging.resolve("tokenizer_config.json"), TOKENIZER_CONFIG);
            Gpt2TestFiles.writeVocabAndMerges(staging);
            Gpt2TestFiles.writeTokenizerJson(staging);
            try (var files = Files.list(staging)) {
                for (Path file : files.toList()) {
                    String id = FakeHub.gitBlobId(Files.readAllBytes(file));
                    Files.move(file, blobs.resolve(id), StandardCopyOption.REPLACE_EXISTING);
                    blobOf.put(file.getFileName().toString(), id);
                }
            }
            Path weights = staging.resolve("model.safetensors");
            String sha256 = writeSafetensors(weights);
            Files.move(weights, blobs.resolve(sha256), StandardCopyOption.REPLACE_EXISTING);
            blobOf.put("model.safetensors", sha256);
        } finally {
            try (var left = Files.list(staging)) {
                for (Path file : left.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(staging);
        }
        StringBuilder tree = new StringBuilder();
        blobOf.forEach((file, blob) -> tree.append(file).append(' ').append(blob).append('\n'));
        String commit = HexFormat.of().formatHex(digest("SHA-1").digest(tree.toString().getBytes(StandardCharsets.UTF_8)));
        Path snapshot = Files.createDirectories(repo.resolve("snapshots").resolve(commit));
        for (var e : blobOf.entrySet()) {
            Path pointer = snapshot.resolve(e.getKey());
            Files.deleteIfExists(pointer);
            Files.createSymbolicLink(pointer, Path.of("..", "..", "blobs", e.getValue()));
        }
        Path refs = Files.createDirectories(repo.resolve("refs"));
        Path ref = Files.writeString(refs.resolve(".main.tmp"), commit);
        Files.move(ref, refs.resolve("main"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return snapshot;
    }

    /** Streams the tensors into {@code file} a chunk at a time; returns the file's sha256. */
    private static String writeSafetensors(Path file) throws IOException {
        List<Tensor> tensors = tensors();
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long offset = 0;
        for (Tensor t : tensors) {
            long bytes = 4 * t.size();
            Map<String, Object> entry = new LinkedHashMap<>(); // in a fixed order: the file's sha256 must not vary
            entry.put("dtype", "F32");
            entry.put("shape", t.shape());
            entry.put("data_offsets", new long[] {offset, offset + bytes});
            header.put(t.name(), entry);
            offset += bytes;
        }
        byte[] json = new Gson().toJson(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the data starts 8-byte aligned; the header is padded with spaces
        ByteBuffer start = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).put(json);
        while (start.hasRemaining()) {
            start.put((byte) ' ');
        }
        MessageDigest sha256 = digest("SHA-256");
        float[] chunk = new float[1 << 16];
        ByteBuffer bytes = ByteBuffer.allocateDirect(4 * chunk.length).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            write(out, start.flip(), sha256);
            for (Tensor t : tensors) {
                Values values = t.values();
                for (long left = t.size(); left > 0; left -= chunk.length) {
                    int n = (int) Math.min(left, chunk.length);
                    float[] part = n == chunk.length ? chunk : new float[n];
                    values.fill(part);
                    bytes.clear();
                    bytes.asFloatBuffer().put(part);
                    write(out, bytes.limit(4 * n), sha256);
                }
            }
        }
        return HexFormat.of().formatHex(sha256.digest());
    }

    private static void write(FileChannel out, ByteBuffer bytes, MessageDigest digest) throws IOException {
        digest.update(bytes.duplicate());
        while (bytes.hasRemaining()) {
            out.write(bytes);
        }
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("Usage: Gpt2SmallHubCache CACHE_DIR   (writes GPT-2 small's layout with random weights)");
            System.exit(2);
        }
        long t0 = System.nanoTime();
        Path snapshot = write(Path.of(args[0]));
        String blob = Files.readSymbolicLink(snapshot.resolve("model.safetensors")).getFileName().toString();
        System.out.printf("%s at commit %s: model.safetensors sha256 %s (random weights, seed %d), in %s, %.1f s%n",
                REPO, snapshot.getFileName(), blob, SEED, snapshot, (System.nanoTime() - t0) / 1e9);
    }
}
