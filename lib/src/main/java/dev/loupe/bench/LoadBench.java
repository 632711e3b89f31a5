package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.load.LoadOptions;
import dev.loupe.model.Pretrained;
import dev.loupe.load.Safetensors;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Load time and peak memory of a GPT-2-small-shaped checkpoint (random weights in Hugging Face's layout),
 * each load in a fresh JVM. Run: {@code ./loupe bench load}.
 */
public final class LoadBench {

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--load")) {
            loadOnce(Path.of(args[1]));
            return;
        }
        Path dir = Files.createTempDirectory("loupe-load-bench");
        try {
            writeCheckpoint(dir);
            long bytes = Files.size(dir.resolve("model.safetensors"));
            System.out.printf("GPT-2-small-shaped checkpoint, %.0f MB of float32 weights; each load in a fresh JVM%n", bytes / 1e6);
            for (String processing : new String[] {"processed", "unprocessed"}) {
                for (int run = 0; run < 3; run++) {
                    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                            "-Dai.djl.offline=true", "-Dloupe.bench.processing=" + processing,
                            "-cp", System.getProperty("java.class.path"), LoadBench.class.getName(), "--load", dir.toString()));
                    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                    for (String line : new String(p.getInputStream().readAllBytes()).split("\n")) {
                        if (line.startsWith("load")) {
                            System.out.printf("%s, peak above start %.2f× the weights%n", line,
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
        HookedTransformer model = Pretrained.loadFolder("gpt2-shaped", dir, processed ? LoadOptions.defaults() : LoadOptions.noProcessing());
        double seconds = (System.nanoTime() - t0) / 1e9;
        long peak = peakRssBytes();
        System.out.printf("load %-11s %.2f s, peak RSS %.0f MB (start %.0f MB), %,d parameters, peak-above-start-bytes=%d%n",
                processed ? "processed" : "unprocessed", seconds, peak / 1e6, start / 1e6, model.parameterCount(), peak - start);
    }

    /** VmHWM: the most resident memory the process has had. */
    private static long peakRssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
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
