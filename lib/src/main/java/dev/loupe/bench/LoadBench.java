package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.load.LoadOptions;
import dev.loupe.model.Pretrained;
import dev.loupe.load.Safetensors;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Load time and peak memory of a checkpoint with random weights in Hugging Face's layout, each load in a fresh
 * JVM: GPT-2 small's shape in float32, or Llama 3.2 1B's in BF16 as the hub serves it (loaded as float32, so the
 * peak is compared with the float32 weights). Run: {@code ./loupe bench load} or {@code ./loupe bench load llama-3.2-1b}.
 */
public final class LoadBench {

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--load")) {
            loadOnce(Path.of(args[1]));
            return;
        }
        boolean llama = args.length > 0 && args[0].equals("llama-3.2-1b");
        Path dir = Files.createTempDirectory("loupe-load-bench");
        try {
            if (llama) {
                writeLlamaCheckpoint(dir);
            } else {
                writeCheckpoint(dir);
            }
            long fileBytes = Files.size(dir.resolve("model.safetensors"));
            long bytes = llama ? 2 * fileBytes : fileBytes; // BF16 loads as float32
            System.out.printf("%s checkpoint, %.0f MB on disk, %.0f MB of float32 weights; each load in a fresh JVM%n",
                    llama ? "Llama-3.2-1B-shaped BF16" : "GPT-2-small-shaped", fileBytes / 1e6, bytes / 1e6);
            for (String processing : new String[] {"processed", "unprocessed"}) {
                for (int run = 0; run < 3; run++) {
                    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                            "-Dai.djl.offline=true", "-Dloupe.bench.processing=" + processing,
                            "-cp", System.getProperty("java.class.path"), LoadBench.class.getName(), "--load", dir.toString()));
                    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                    for (String line : new String(p.getInputStream().readAllBytes()).split("\n")) {
                        if (line.startsWith("load")) {
                            System.out.printf("%s, peak above start %.2f× the float32 weights%n", line,
                                    Double.parseDouble(line.replaceAll(".*peak-above-start-bytes=", "")) / bytes);
                        }
                    }
                    p.waitFor();
                }
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(dir);
        }
    }

    private static void loadOnce(Path dir) throws IOException {
        Tensors.ofFloats(new float[] {1}, new Shape(1)).close(); // start the engine before the baseline
        long start = MemorySoak.rssBytes();
        boolean processed = System.getProperty("loupe.bench.processing").equals("processed");
        long t0 = System.nanoTime();
        HookedTransformer model = Pretrained.loadFolder(dir.getFileName().toString(), dir, processed ? LoadOptions.defaults() : LoadOptions.noProcessing());
        double seconds = (System.nanoTime() - t0) / 1e9;
        long peak = peakRssBytes();
        System.out.printf("load %-11s %.2f s, peak RSS %.0f MB (start %.0f MB), %,d parameters, peak-above-start-bytes=%d%n",
                processed ? "processed" : "unprocessed", seconds, peak / 1e6, start / 1e6, model.parameterCount(), peak - start);
    }

    /** VmHWM: the most resident memory the process has had. */
    static long peakRssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
    }

    /**
     * Random BF16 weights with Llama 3.2 1B's names and shapes (tied embeddings: no lm_head) and its config.json,
     * streamed to the file: there are no BF16 arrays here to write from.
     */
    private static void writeLlamaCheckpoint(Path dir) throws IOException {
        ModelConfig c = BenchModels.LLAMA_3_2_1B;
        long d = c.dModel();
        long kv = (long) c.nKeyValueHeads() * c.dHead();
        long q = (long) c.nHeads() * c.dHead();
        List<Safetensors.Source> w = new ArrayList<>();
        w.add(bf16("model.embed_tokens.weight", false, c.dVocab(), d));
        for (int l = 0; l < c.nLayers(); l++) {
            String p = "model.layers." + l + ".";
            w.add(bf16(p + "input_layernorm.weight", true, d));
            w.add(bf16(p + "self_attn.q_proj.weight", false, q, d));
            w.add(bf16(p + "self_attn.k_proj.weight", false, kv, d));
            w.add(bf16(p + "self_attn.v_proj.weight", false, kv, d));
            w.add(bf16(p + "self_attn.o_proj.weight", false, d, q));
            w.add(bf16(p + "post_attention_layernorm.weight", true, d));
            w.add(bf16(p + "mlp.gate_proj.weight", false, c.dMlp(), d));
            w.add(bf16(p + "mlp.up_proj.weight", false, c.dMlp(), d));
            w.add(bf16(p + "mlp.down_proj.weight", false, d, c.dMlp()));
        }
        w.add(bf16("model.norm.weight", true, d));
        Safetensors.write(dir.resolve("model.safetensors"), w);
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
                 "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
                 "hidden_act": "silu", "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
                 "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                 "tie_word_embeddings": true, "torch_dtype": "bfloat16", "vocab_size": 128256,
                 "bos_token_id": 128000, "eos_token_id": 128001}
                """);
    }

    /** A BF16 tensor of ones (norm weights) or uniform noise in ±0.03 (the top half of a float32's bits). */
    private static Safetensors.Source bf16(String name, boolean ones, long... shape) {
        long n = java.util.Arrays.stream(shape).reduce(1, (x, y) -> x * y);
        return new Safetensors.Source(name, "BF16", shape, 2 * n, out -> {
            java.util.SplittableRandom random = new java.util.SplittableRandom(name.hashCode());
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (long i = 0; i < n; i++) {
                float v = ones ? 1f : (float) (random.nextDouble() * 0.06 - 0.03);
                chunk.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
                if (!chunk.hasRemaining() || i == n - 1) {
                    out.write(chunk.array(), 0, chunk.position());
                    chunk.clear();
                }
            }
        });
    }

    /** Random weights with GPT-2 small's names and shapes (Conv1D layout, fused c_attn, tied embeddings). */
    private static void writeCheckpoint(Path dir) throws IOException {
        int d = 768;
        int layers = 12;
        int vocab = 50257;
        int ctx = 1024;
        NDManager m = Tensors.manager();
        Map<String, NDArray> w = new LinkedHashMap<>();
        w.put("wte.weight", m.randomNormal(0, 0.02f, new Shape(vocab, d), DataType.FLOAT32));
        w.put("wpe.weight", m.randomNormal(0, 0.02f, new Shape(ctx, d), DataType.FLOAT32));
        for (int l = 0; l < layers; l++) {
            String h = "h." + l + ".";
            w.put(h + "ln_1.weight", m.ones(new Shape(d)));
            w.put(h + "ln_1.bias", m.zeros(new Shape(d)));
            w.put(h + "attn.c_attn.weight", m.randomNormal(0, 0.02f, new Shape(d, 3 * d), DataType.FLOAT32));
            w.put(h + "attn.c_attn.bias", m.zeros(new Shape(3 * d)));
            w.put(h + "attn.c_proj.weight", m.randomNormal(0, 0.02f, new Shape(d, d), DataType.FLOAT32));
            w.put(h + "attn.c_proj.bias", m.zeros(new Shape(d)));
            w.put(h + "ln_2.weight", m.ones(new Shape(d)));
            w.put(h + "ln_2.bias", m.zeros(new Shape(d)));
            w.put(h + "mlp.c_fc.weight", m.randomNormal(0, 0.02f, new Shape(d, 4 * d), DataType.FLOAT32));
            w.put(h + "mlp.c_fc.bias", m.zeros(new Shape(4 * d)));
            w.put(h + "mlp.c_proj.weight", m.randomNormal(0, 0.02f, new Shape(4 * d, d), DataType.FLOAT32));
            w.put(h + "mlp.c_proj.bias", m.zeros(new Shape(d)));
        }
        w.put("ln_f.weight", m.ones(new Shape(d)));
        w.put("ln_f.bias", m.zeros(new Shape(d)));
        Safetensors.write(dir.resolve("model.safetensors"), w);
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\", \"vocab_size\": " + vocab
                + ", \"n_positions\": " + ctx + ", \"n_embd\": " + d + ", \"n_layer\": " + layers + ", \"n_head\": 12}");
        w.values().forEach(NDArray::close);
    }
}
