package dev.loupe.bench;

import ai.djl.ndarray.NDArray;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resident memory over many runWithCache calls in one JVM, caches either closed or dropped (left to the
 * garbage collector, as in a notebook). Also prints the JVM heap's committed size, which grows towards -Xmx
 * on its own, and the native bytes of live Loupe arrays. Run: {@code ./loupe bench memory [calls]}.
 */
public final class MemorySoak {

    public static void main(String[] args) throws IOException {
        int calls = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        ModelConfig cfg = ModelConfig.builder().modelName("soak").nLayers(4).dModel(256).nHeads(8)
                .dVocab(5000).nCtx(256).build();
        HookedTransformer model = HookedTransformer.create(cfg, 0);
        NDArray tokens = BenchModels.randomTokens(4, 256, cfg.dVocab());
        long perCache;
        try (ActivationCache c = model.runWithCache(tokens)) {
            perCache = c.memoryBytes();
        }
        System.out.printf("%s; each cache holds %.1f MB (%,d calls would be %.1f GB if none were freed)%n",
                cfg, perCache / 1e6, calls, calls * (double) perCache / 1e9);
        for (String mode : new String[] {"closed", "dropped"}) {
            System.out.printf("%-8s %8s %10s %16s %16s%n", "caches", "calls", "RSS MB", "JVM heap MB", "Loupe arrays MB");
            for (int i = 1; i <= calls; i++) {
                ActivationCache cache = model.runWithCache(tokens);
                if (mode.equals("closed")) {
                    cache.close();
                }
                if (i % (calls / 10) == 0) {
                    Runtime jvm = Runtime.getRuntime();
                    System.out.printf("%-8s %8d %10.0f %16.0f %16.1f%n", mode, i, rssBytes() / 1e6,
                            jvm.totalMemory() / 1e6, Tensors.liveBytes() / 1e6);
                }
            }
        }
    }

    /** VmRSS from /proc/self/status, the resident set as the kernel counts it. */
    static long rssBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
    }
}
