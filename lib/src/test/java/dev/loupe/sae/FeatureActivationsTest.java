package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * maxActivating against brute force: every window run alone with the SAE spliced, every (window, position, activation)
 * of every feature listed, sorted and counted in plain Java.
 */
class FeatureActivationsTest {

    private static final int D = 16;
    private static final int D_SAE = 40;
    private static final int K = 5;

    static HookedTransformer tinyModel() {
        return HookedTransformer.create(ModelConfig.builder().modelName("tiny").nLayers(2).dModel(D).nHeads(2).dMlp(32)
                .dVocab(23).nCtx(12).dtype(DataType.FLOAT64).seed(3).build());
    }

    static Sae randomSae(SaeConfig cfg, long seed) {
        return Sae.fromWeights(cfg, SaeSpliceTest.randomWeights(cfg, seed));
    }

    /** Windows of three lengths, out of order, so that they run as several batches. */
    static List<int[]> windows(long seed) {
        Random r = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int length : new int[] {7, 7, 7, 4, 4, 11, 7, 7, 9}) {
            out.add(r.ints(length, 0, 23).toArray());
        }
        return out;
    }

    private record Hit(int window, int position, double value) {}

    /** Every positive activation of every feature, with the SAE spliced, window by window. */
    private static List<List<Hit>> bruteForce(HookedTransformer model, Sae sae, List<int[]> windows) {
        List<List<Hit>> hits = new ArrayList<>();
        for (int f = 0; f < sae.dSae(); f++) {
            hits.add(new ArrayList<>());
        }
        try (var s = model.saes(sae)) {
            for (int w = 0; w < windows.size(); w++) {
                NDArray acts = model.runWithCache(model.toTokens(windows.get(w)), n -> n.endsWith("hook_sae_acts_post"))
                        .get(sae.hookName() + ".hook_sae_acts_post");
                double[] v = acts.toDoubleArray();
                for (int p = 0; p < windows.get(w).length; p++) {
                    for (int f = 0; f < sae.dSae(); f++) {
                        if (v[p * sae.dSae() + f] > 0) {
                            hits.get(f).add(new Hit(w, p, v[p * sae.dSae() + f]));
                        }
                    }
                }
            }
        }
        return hits;
    }

    @Test
    void topKDensityMaxAndHistogramEqualBruteForce() {
        HookedTransformer model = tinyModel();
        Sae sae = randomSae(SaeConfig.standard("blocks.1.hook_resid_pre", D, D_SAE), 7);
        List<int[]> windows = windows(1);
        FeatureStats stats = FeatureActivations.maxActivating(model, sae, windows, K);
        List<List<Hit>> hits = bruteForce(model, sae, windows);
        long tokens = windows.stream().mapToInt(w -> w.length).sum();
        assertEquals(tokens, stats.tokens());
        int active = 0;
        for (int f = 0; f < D_SAE; f++) {
            List<Hit> all = hits.get(f);
            assertEquals(all.size(), stats.firings(f), "feature " + f + " fires on");
            assertEquals((double) all.size() / tokens, stats.density(f), 0, "density is a count over the tokens");
            List<Hit> top = all.stream().sorted(Comparator.comparingDouble(Hit::value).reversed()).limit(K).toList();
            List<FeatureStats.Example> got = stats.top(f);
            assertEquals(top.size(), got.size(), "feature " + f);
            for (int i = 0; i < top.size(); i++) {
                assertEquals(top.get(i).window(), got.get(i).window(), "feature " + f + " example " + i);
                assertEquals(top.get(i).position(), got.get(i).position(), "feature " + f + " example " + i);
                assertEquals(top.get(i).value(), got.get(i).activation(), 1e-6 * top.get(i).value());
            }
            double max = all.stream().mapToDouble(Hit::value).max().orElse(0);
            assertEquals(max, stats.max(f), 1e-6 * max);
            FeatureStats.Histogram h = stats.histogram(f);
            long[] expected = new long[h.counts().length];
            for (Hit hit : all) {
                expected[(int) Math.floor(hit.value() / h.binWidth())]++;
            }
            assertArrayEquals(expected, h.counts(), "feature " + f + "'s histogram");
            if (!all.isEmpty()) {
                active++;
                assertTrue(max >= h.binWidth() * FeatureScan.BINS / 2, "the maximum lies in the upper half of the bins");
            }
        }
        assertTrue(active > D_SAE / 2 && active < D_SAE + 1, "a random SAE has many live features: " + active);
        assertEquals(D_SAE - active, stats.deadFeatures());
    }

    @Test
    void anArrayOfWindowsGivesWhatTheListGives() {
        HookedTransformer model = tinyModel();
        Sae sae = randomSae(SaeConfig.standard("blocks.0.hook_resid_post", D, D_SAE), 8);
        List<int[]> windows = windows(2).stream().filter(w -> w.length == 7).toList();
        long[] ids = windows.stream().flatMapToInt(java.util.Arrays::stream).asLongStream().toArray();
        FeatureStats fromArray = FeatureActivations.maxActivating(model, sae, Tensors.ofLongs(ids, new Shape(windows.size(), 7)), K);
        FeatureStats fromList = FeatureActivations.maxActivating(model, sae, windows, K);
        for (int f = 0; f < D_SAE; f++) {
            assertEquals(fromList.top(f), fromArray.top(f));
            assertEquals(fromList.firings(f), fromArray.firings(f));
        }
    }

    /** Stopping the run after the hook reads what the splice reads, wherever the hook is. */
    @Test
    void theActivationsEqualTheSplicedRunsAtEveryKindOfHook() {
        HookedTransformer model = tinyModel();
        NDArray tokens = Tensors.ofLongs(new long[] {1, 5, 7, 3, 9, 2, 4, 8, 6, 11, 0, 13}, new Shape(2, 6));
        List<Sae> saes = List.of(
                randomSae(SaeConfig.standard("blocks.1.hook_resid_pre", D, D_SAE), 1),
                randomSae(SaeConfig.standard("blocks.0.hook_mlp_out", D, D_SAE), 2),
                randomSae(SaeConfig.standard("blocks.1.attn.hook_z", D, D_SAE), 3),
                randomSae(SaeConfig.standard("hook_embed", D, D_SAE), 4),
                randomSae(SaeConfig.transcoder("blocks.1.hook_resid_mid", D, "blocks.1.hook_mlp_out", D, D_SAE), 5));
        for (Sae sae : saes) {
            NDArray spliced;
            try (var s = model.saes(sae)) {
                spliced = model.runWithCache(tokens, n -> n.endsWith("hook_sae_acts_post")).get(sae.hookName() + ".hook_sae_acts_post");
            }
            NDArray direct = FeatureActivations.of(model, sae, tokens);
            assertEquals(spliced.getShape(), direct.getShape(), sae.toString());
            assertTrue(Tensors.item(spliced.sub(direct).abs().max()) < 1e-12, sae.toString());
            assertTrue(Tensors.item(direct.abs().sum()) > 0, sae + " has features that fire");
        }
    }
}
