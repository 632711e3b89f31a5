package dev.loupe.sae;

import dev.loupe.model.HookedTransformer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Scans of parts of a corpus, merged in any order, equal one scan of the whole in every field. */
class FeatureScanMergeTest {

    static void assertSameScan(FeatureScan expected, FeatureScan got) {
        assertEquals(expected.tokens, got.tokens, "tokens");
        assertArrayEquals(expected.counts, got.counts, "counts");
        assertArrayEquals(expected.max, got.max, "max");
        assertArrayEquals(expected.kept, got.kept, "kept");
        assertArrayEquals(expected.histTop, got.histTop, "histogram tops");
        assertArrayEquals(expected.hist, got.hist, "histograms");
        for (int u = 0; u < expected.units; u++) {
            for (int i = 0; i < expected.kept[u]; i++) {
                int s = u * expected.k + i;
                String where = "unit " + u + " slot " + i;
                assertEquals(expected.topValues[s], got.topValues[s], where);
                assertEquals(expected.topWindows[s], got.topWindows[s], where);
                assertEquals(expected.topPositions[s], got.topPositions[s], where);
                assertEquals(expected.contextLength[s], got.contextLength[s], where);
                assertEquals(expected.contextTop[s], got.contextTop[s], where);
                for (int j = 0; j < expected.contextLength[s]; j++) {
                    assertEquals(expected.contextTokens[s * FeatureScan.CONTEXT + j], got.contextTokens[s * FeatureScan.CONTEXT + j], where);
                    assertEquals(expected.contextActivations[s * FeatureScan.CONTEXT + j],
                            got.contextActivations[s * FeatureScan.CONTEXT + j], where);
                }
            }
        }
    }

    /** Windows of one length 6, values drawn from a few levels so that many tie, some units never positive. */
    private static float[] tiedActivations(int windows, int length, int units, long seed) {
        Random r = new Random(seed);
        float[] acts = new float[windows * length * units];
        for (int i = 0; i < acts.length; i++) {
            int u = i % units;
            acts[i] = u == units - 1 ? -1 : (r.nextInt(5) - 2) * 0.75f * (u + 1); // the last unit never fires
        }
        return acts;
    }

    private static long[] ids(int n, long seed) {
        return new Random(seed).longs(n, 0, 50).toArray();
    }

    @Test
    void tiesAndKLargerThanTheHitsMergeAsOneScan() {
        int units = 4;
        int length = 6;
        int windows = 10;
        for (boolean positiveOnly : new boolean[] {true, false}) {
            for (int k : new int[] {1, 3, 500}) {
                float[] acts = tiedActivations(windows, length, units, 1);
                long[] ids = ids(windows * length, 2);
                FeatureScan whole = new FeatureScan(units, k, positiveOnly);
                whole.add(acts, ids, 0, length);
                int[] cuts = {0, 3, 4, 8, windows};
                List<FeatureScan> parts = new ArrayList<>();
                for (int p = 0; p + 1 < cuts.length; p++) {
                    FeatureScan part = new FeatureScan(units, k, positiveOnly);
                    part.add(java.util.Arrays.copyOfRange(acts, cuts[p] * length * units, cuts[p + 1] * length * units),
                            java.util.Arrays.copyOfRange(ids, cuts[p] * length, cuts[p + 1] * length), cuts[p], length);
                    parts.add(part);
                }
                // Merged last part first, and as a tree: the order of the parts must not matter.
                FeatureScan backwards = parts.get(3);
                for (int p = 2; p >= 0; p--) {
                    backwards = FeatureScan.merge(backwards, parts.get(p));
                }
                FeatureScan tree = FeatureScan.merge(FeatureScan.merge(parts.get(2), parts.get(0)),
                        FeatureScan.merge(parts.get(3), parts.get(1)));
                assertSameScan(whole, backwards);
                assertSameScan(whole, tree);
                assertEquals(positiveOnly ? 0 : Math.min(k, windows * length), whole.kept[units - 1],
                        "a unit that never fires has contexts only when every value counts");
                if (k == 500) {
                    assertTrue(whole.kept[0] < 500, "k above the hits keeps them all");
                }
            }
        }
    }

    @Test
    void histogramsOfDifferentTopsMergeExactly() {
        FeatureScan small = new FeatureScan(1, 2, true);
        small.add(new float[] {0.1f, 0.3f, 0.2f}, new long[3], 0, 3);
        FeatureScan large = new FeatureScan(1, 2, true);
        large.add(new float[] {5f, 0.05f}, new long[2], 1, 2);
        FeatureScan whole = new FeatureScan(1, 2, true);
        whole.add(new float[] {0.1f, 0.3f, 0.2f}, new long[3], 0, 3);
        whole.add(new float[] {5f, 0.05f}, new long[2], 1, 2);
        assertEquals(8.0, whole.histTop[0], "the least power of two above the maximum 5");
        assertSameScan(whole, FeatureScan.merge(large, small));
    }

    @Test
    void partsOfACorpusScannedThroughTheModelMergeIntoTheWholeScan() {
        HookedTransformer model = FeatureActivationsTest.tinyModel();
        Sae sae = FeatureActivationsTest.randomSae(SaeConfig.standard("blocks.1.hook_resid_pre", 16, 40), 7);
        List<int[]> windows = FeatureActivationsTest.windows(5);
        for (Units units : List.of(Units.features(sae), Units.neurons(model, "blocks.0.mlp.hook_post"),
                Units.direction(model, "blocks.1.hook_resid_pre", new float[] {1, -2, 0, 3, 1, 1, 0, 0, 2, 1, -1, 0, 0, 5, 1, 1}))) {
            int batch = 2; // windows per batch: parts start at multiples of it
            FeatureScan whole = FeatureActivations.scan(model, units, windows, 0, batch, 3, n -> { });
            FeatureScan first = FeatureActivations.scan(model, units, windows.subList(0, 4), 0, batch, 3, n -> { });
            FeatureScan second = FeatureActivations.scan(model, units, windows.subList(4, 6), 4, batch, 3, n -> { });
            FeatureScan third = FeatureActivations.scan(model, units, windows.subList(6, windows.size()), 6, batch, 3, n -> { });
            assertSameScan(whole, FeatureScan.merge(third, FeatureScan.merge(second, first)));
        }
    }

    @Test
    void scansOfDifferentUnitsAreNotMerged() {
        assertThrows(IllegalArgumentException.class, () -> FeatureScan.merge(new FeatureScan(3, 2, true), new FeatureScan(3, 4, true)));
    }
}
