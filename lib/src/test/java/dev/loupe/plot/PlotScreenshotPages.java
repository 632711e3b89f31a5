package dev.loupe.plot;

import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes one standalone HTML page per kind of plot (via {@code Figure.save}), for docs/screenshots/plots.sh to
 * render in headless Chromium with no network. Not a check: it runs only when asked, {@code -Dloupe.plotpages=DIR}.
 */
@EnabledIfSystemProperty(named = "loupe.plotpages", matches = ".+")
class PlotScreenshotPages {

    private static final List<String> WORDS = List.of("<|endoftext|>", "When", " Mary", " and", " John", " went", " to",
            " the", " store", ",", " John", " gave", " a", " drink", " to", " Mary", " &", " <b>", "\n", ".");

    /** Heads with recognisable shapes: previous-token, first-token, induction-like, diagonal, and random. */
    static float[] patterns(int heads, int n, long seed) {
        float[] v = PlotTest.causalPatterns(heads, n, seed);
        for (int h = 0; h < heads; h++) {
            int kind = h % 4;
            if (kind == 3) {
                continue;
            }
            for (int q = 0; q < n; q++) {
                for (int k = 0; k <= q; k++) {
                    v[(h * n + q) * n + k] = 0;
                }
                int k = kind == 0 ? Math.max(0, q - 1) : kind == 1 ? 0 : q;
                v[(h * n + q) * n + k] = 1;
            }
        }
        return v;
    }

    @Test
    void pages() {
        Path dir = Path.of(System.getProperty("loupe.plotpages"));
        int n = WORDS.size();
        Plot.attention(Tensors.ofFloats(patterns(12, n, 1), new Shape(1, 12, n, n)), WORDS).save(dir.resolve("plot-attention.html"));
        Plot.attentionHead(Tensors.ofFloats(patterns(12, n, 1), new Shape(12, n, n)), 3, WORDS)
                .save(dir.resolve("plot-attention-head.html"));
        List<ai.djl.ndarray.NDArray> layers = new ArrayList<>();
        for (int l = 0; l < 12; l++) {
            layers.add(Tensors.ofFloats(patterns(12, 100, l), new Shape(12, 100, 100)));
        }
        List<String> hundred = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            hundred.add(WORDS.get(i % n));
        }
        Plot.attentionAllLayers(layers, hundred).save(dir.resolve("plot-attention-all.html"));
        double[][] g = new double[12][n];
        for (int l = 0; l < 12; l++) {
            for (int p = 0; p < n; p++) {
                g[l][p] = Math.sin(l * 0.5) * Math.cos(p * 0.4) * (l + 1) / 12.0;
            }
        }
        List<String> rows = new ArrayList<>();
        for (int l = 0; l < 12; l++) {
            rows.add(Integer.toString(l));
        }
        Plot.heatmap(g, rows, WORDS).title("logit difference after patching resid_pre").axes("layer", "position")
                .save(dir.resolve("plot-heatmap.html"));
        double[][] a = {{0.1, 0.8, -0.2}, {0.0, 0.3, 0.5}};
        double[][] b = {{-1.5, 0.2, 0.1}, {0.4, -0.3, 0.0}};
        Plot.facets(List.of(Plot.heatmap(a, List.of("L0", "L1"), List.of("H0", "H1", "H2")).title("clean"),
                Plot.heatmap(b, List.of("L0", "L1"), List.of("H0", "H1", "H2")).title("corrupted")), true)
                .save(dir.resolve("plot-facets.html"));
        double[] x = new double[200];
        double[] y1 = new double[200];
        double[] y2 = new double[200];
        for (int i = 0; i < 200; i++) {
            x[i] = i + 1;
            y1[i] = 5 * Math.pow(i + 1, -0.3);
            y2[i] = 4 * Math.pow(i + 1, -0.2) + 0.1 * Math.sin(i / 3.0);
        }
        Plot.lines(new Chart.Series("train", x, y1), new Chart.Series("eval", x, y2)).title("loss").axes("step", "loss")
                .logX().logY().save(dir.resolve("plot-lines.html"));
        java.util.Random r = new java.util.Random(4);
        double[] sx = new double[80];
        double[] sy = new double[80];
        for (int i = 0; i < 80; i++) {
            sx[i] = r.nextGaussian();
            sy[i] = 0.7 * sx[i] + 0.5 * r.nextGaussian();
        }
        Plot.scatter(sx, sy).title("head score vs ablation effect").axes("score", "effect").save(dir.resolve("plot-scatter.html"));
        Plot.bar(List.of(" Mary", " John", " the", " a", " drink", " store"), new double[] {3.2, -1.1, 0.4, 0.2, -0.6, 1.3})
                .title("direct logit attribution").axes("token", "logit").save(dir.resolve("plot-bar.html"));
        double[] dla = new double[n];
        for (int i = 0; i < n; i++) {
            dla[i] = Math.sin(i * 0.7) * 2;
        }
        Plot.coloredTokens(WORDS, dla).title("per-token loss difference").save(dir.resolve("plot-tokens.html"));
    }
}
