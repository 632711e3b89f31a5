package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.MimeBundle;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.plot.Chart;
import dev.loupe.plot.Plot;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * Time and size of plot bundles: attention for a GPT-2-small-shaped model (12 layers x 12 heads) over 100 tokens,
 * all layers in one figure and as 12 per-layer figures, plus heatmaps, line plots and coloured tokens, and the size of
 * the first plotly figure of a session, which carries plotly.js.
 * Run: {@code ./loupe bench plot}.
 */
public final class PlotBench {

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        Tensors.manager();
        HookedTransformer model = HookedTransformer.create(ModelConfig.builder().nLayers(12).dModel(768).nHeads(12)
                .dVocab(50257).nCtx(1024).build(), 0);
        int[] ids = new int[n];
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ids[i] = (i * 7919) % 50257;
            tokens.add(" tok" + i);
        }
        ActivationCache cache = model.runWithCache(model.toTokens(ids));
        System.out.printf("%-44s %10s %10s %10s %10s%n", "figure", "first ms", "median ms", "html kB", "png kB");
        time("attentionAllLayers 12x12, " + n + " tokens", () -> Plot.attentionAllLayers(cache, tokens).mimeBundle());
        time("12 x attention(cache, layer), " + n + " tok", () -> {
            MimeBundle last = null;
            long html = 0;
            long png = 0;
            for (int l = 0; l < 12; l++) {
                last = Plot.attention(cache, l, tokens).mimeBundle();
                html += last.data().get(MimeBundle.HTML).length();
                png += last.data().get(MimeBundle.PNG).length();
            }
            return new MimeBundle(java.util.Map.of(MimeBundle.TEXT, "12 layers", MimeBundle.HTML, "x".repeat((int) html),
                    MimeBundle.PNG, "x".repeat((int) png)));
        });
        time("attentionHead(cache, 5, 3), " + n + " tokens", () -> Plot.attentionHead(cache, 5, 3, tokens).mimeBundle());
        NDArray grid = Tensors.manager().randomNormal(new Shape(12, n));
        List<String> rows = new ArrayList<>();
        for (int l = 0; l < 12; l++) {
            rows.add(Integer.toString(l));
        }
        // The first plotly figure of a session carries plotly.js; the rest (and the timings below) do not.
        long first = Plot.heatmap(grid, rows, tokens).mimeBundle().data().get(MimeBundle.HTML).length();
        long later = Plot.heatmap(grid, rows, tokens).mimeBundle().data().get(MimeBundle.HTML).length();
        System.out.printf("%-44s %32.0f kB (later ones %.0f kB)%n", "heatmap, first plotly figure of the session",
                first / 1024.0, later / 1024.0);
        time("heatmap [12, " + n + "]", () -> Plot.heatmap(grid, rows, tokens).mimeBundle());
        NDArray big = Tensors.manager().randomNormal(new Shape(768, 3072));
        time("heatmap [768, 3072] (pooled 8 x 8)", () -> Plot.heatmap(big).mimeBundle());
        double[] y = new double[10_000];
        for (int i = 0; i < y.length; i++) {
            y[i] = Math.exp(-i / 2000.0) + 0.01 * Math.sin(i);
        }
        time("lines, 10,000 points, log y", () -> Plot.lines(Chart.Series.of("loss", y)).logY().mimeBundle());
        double[] many = new double[1_000_000];
        Arrays.setAll(many, i -> Math.sin(i / 1000.0) + 0.1 * Math.sin(i));
        time("lines, 1,000,000 points (decimated)", () -> Plot.lines(many).mimeBundle());
        double[] v = new double[n];
        Arrays.setAll(v, i -> Math.sin(i / 5.0));
        time("coloredTokens, " + n + " tokens", () -> Plot.coloredTokens(tokens, v).mimeBundle());
        cache.close();
    }

    private static void time(String what, Supplier<MimeBundle> make) {
        long start = System.nanoTime();
        MimeBundle b = make.get();
        double first = (System.nanoTime() - start) / 1e6;
        double[] ms = new double[7];
        for (int i = 0; i < ms.length; i++) {
            start = System.nanoTime();
            b = make.get();
            ms[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(ms);
        System.out.printf("%-44s %10.1f %10.1f %10.0f %10.0f%n", what, first, ms[ms.length / 2],
                b.data().get(MimeBundle.HTML).length() / 1024.0, b.data().get(MimeBundle.PNG).length() / 1024.0);
    }
}
