package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.Display;
import dev.loupe.display.MimeBundle;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import java.util.Arrays;
import java.util.function.Supplier;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * How long {@code Display.bundleOf} takes for what researchers look at, and how big the bundles are: arrays
 * from 128 × 128 to GPT-2's embedding matrix, a GPT-2-small-shaped model and its cache, a 10,000-row table.
 * The first call of a JVM pays for loading Java2D and ImageIO; the median is what later calls cost.
 * Run: {@code ./loupe bench display}.
 */
public final class DisplayBench {

    public static void main(String[] args) {
        Tensors.manager(); // engine start-up is not rendering
        System.out.printf("%-36s %10s %10s %10s%n", "object", "first ms", "median ms", "bundle kB");
        time("NDArray [128, 128] (heatmap)", () -> Tensors.manager().randomNormal(new Shape(128, 128)));
        time("NDArray [50257] (line)", () -> Tensors.manager().randomNormal(new Shape(50257)));
        time("NDArray [768, 3072] (pooled heatmap)", () -> Tensors.manager().randomNormal(new Shape(768, 3072)));
        time("NDArray [50257, 768] (pooled heatmap)", () -> Tensors.manager().randomNormal(new Shape(50257, 768)));
        time("NDArray [1, 12, 128, 128] (no plot)", () -> Tensors.manager().randomNormal(new Shape(1, 12, 128, 128)));
        HookedTransformer model = HookedTransformer.create(ModelConfig.builder().nLayers(12).dModel(768).nHeads(12)
                .dVocab(50257).nCtx(1024).build(), 0);
        time("HookedTransformer (GPT-2 small shape)", () -> model);
        NDArray tokens = model.toTokens(new int[128]);
        ActivationCache cache = model.runWithCache(tokens);
        time("ActivationCache (1 x 128 tokens)", () -> cache);
        String[] names = new String[10_000];
        double[] values = new double[names.length];
        for (int i = 0; i < names.length; i++) {
            names[i] = "<tok" + i + ">";
            values[i] = Math.sin(i);
        }
        Table table = Table.create("t", StringColumn.create("token", names), DoubleColumn.create("value", values));
        time("Table (10,000 rows)", () -> table);
    }

    private static void time(String what, Supplier<Object> make) {
        Object o = make.get();
        long start = System.nanoTime();
        MimeBundle b = Display.bundleOf(o);
        double first = (System.nanoTime() - start) / 1e6;
        double[] ms = new double[15];
        for (int i = 0; i < ms.length; i++) {
            start = System.nanoTime();
            b = Display.bundleOf(o);
            ms[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(ms);
        int size = b.data().values().stream().mapToInt(String::length).sum();
        System.out.printf("%-36s %10.1f %10.1f %10.1f%n", what, first, ms[ms.length / 2], size / 1000.0);
    }
}
