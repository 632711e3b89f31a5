package dev.loupe.sae;

import dev.loupe.hook.UnknownHookException;
import dev.loupe.model.HookedTransformer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Neurons' and directions' top contexts against brute force over every window's cached activation. */
class UnitsTest {

    private final HookedTransformer model = FeatureActivationsTest.tinyModel();
    private final List<int[]> windows = FeatureActivationsTest.windows(6);

    private record Hit(int window, int position, double value) {}

    /** Every token's value of each unit, computed in plain Java from the cached activation: value(row of d). */
    private List<List<Hit>> bruteForce(String hook, int units, java.util.function.BiFunction<double[], Integer, Double> value) {
        List<List<Hit>> hits = new ArrayList<>();
        for (int u = 0; u < units; u++) {
            hits.add(new ArrayList<>());
        }
        for (int w = 0; w < windows.size(); w++) {
            double[] a = model.runWithCache(model.toTokens(windows.get(w))).get(hook).toDoubleArray();
            int d = a.length / windows.get(w).length;
            for (int p = 0; p < windows.get(w).length; p++) {
                double[] row = java.util.Arrays.copyOfRange(a, p * d, (p + 1) * d);
                for (int u = 0; u < units; u++) {
                    hits.get(u).add(new Hit(w, p, value.apply(row, u)));
                }
            }
        }
        return hits;
    }

    private static void assertTopEquals(List<List<Hit>> hits, FeatureStats stats, int k) {
        for (int u = 0; u < hits.size(); u++) {
            List<Hit> top = hits.get(u).stream().sorted(Comparator.comparingDouble(Hit::value).reversed()
                    .thenComparingInt(Hit::window).thenComparingInt(Hit::position)).limit(k).toList();
            List<FeatureStats.Example> got = stats.top(u);
            assertEquals(top.size(), got.size());
            for (int i = 0; i < top.size(); i++) {
                assertEquals(top.get(i).window(), got.get(i).window(), stats.units().name(u) + " example " + i);
                assertEquals(top.get(i).position(), got.get(i).position(), stats.units().name(u) + " example " + i);
                assertEquals(top.get(i).value(), got.get(i).activation(), 1e-5 * (1 + Math.abs(top.get(i).value())));
            }
            long positive = hits.get(u).stream().filter(h -> h.value() > 0).count();
            assertEquals(positive, stats.firings(u), "firings count values > 0");
        }
    }

    @Test
    void neuronsAreTheHooksColumnsNegativeValuesIncluded() {
        int[] chosen = {3, 0, 31};
        FeatureStats stats = FeatureActivations.maxActivating(model, Units.neurons(model, "blocks.0.mlp.hook_post", chosen), windows, 4);
        assertTopEquals(bruteForce("blocks.0.mlp.hook_post", 3, (row, u) -> row[chosen[u]]), stats, 4);
        assertEquals("neuron 31", stats.units().name(2));
        assertEquals(32, Units.neurons(model, "blocks.0.mlp.hook_post").count(), "every neuron: d_mlp");
        assertTrue(stats.toTable().rowCount() == 12 && stats.toTable().column("context").getString(0).contains("[["));
    }

    @Test
    void aDirectionIsTheDotProductWithTheActivation() {
        float[] v = new float[16];
        for (int i = 0; i < v.length; i++) {
            v[i] = (i % 3) - 1 + 0.25f * i;
        }
        FeatureStats stats = FeatureActivations.maxActivating(model, Units.direction(model, "blocks.1.hook_resid_mid", v), windows, 5);
        assertTopEquals(bruteForce("blocks.1.hook_resid_mid", 1, (row, u) -> {
            double dot = 0;
            for (int i = 0; i < row.length; i++) {
                dot += row[i] * v[i];
            }
            return dot;
        }), stats, 5);
        assertTrue(stats.feature(0).mimeBundle().data().get(dev.loupe.display.MimeBundle.HTML).contains("No logit effects"));
    }

    @Test
    void badUnitsAreRefusedNamingWhatWasExpected() {
        assertThrows(UnknownHookException.class, () -> Units.neurons(model, "blocks.0.mlp.hook_pots"));
        IndexOutOfBoundsException n = assertThrows(IndexOutOfBoundsException.class, () -> Units.neurons(model, "blocks.0.mlp.hook_post", 32));
        assertTrue(n.getMessage().contains("it has 32"), n.getMessage());
        IllegalArgumentException d = assertThrows(IllegalArgumentException.class,
                () -> Units.direction(model, "blocks.0.hook_resid_pre", new float[3]));
        assertTrue(d.getMessage().contains("3 entries") && d.getMessage().contains("16 wide"), d.getMessage());
        Sae wide = FeatureActivationsTest.randomSae(SaeConfig.standard("blocks.0.hook_resid_pre", 24, 8), 1);
        IllegalArgumentException w = assertThrows(IllegalArgumentException.class,
                () -> FeatureActivations.maxActivating(model, wide, windows, 3));
        assertTrue(w.getMessage().contains("d_in 24") && w.getMessage().contains("16 wide"), w.getMessage());
        assertThrows(IllegalArgumentException.class, () -> FeatureActivations.maxActivating(model, wide, windows, 0));
    }
}
