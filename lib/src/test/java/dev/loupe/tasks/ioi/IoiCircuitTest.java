package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.cache.LabelledStack;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.PatchingResult;
import dev.loupe.patching.PathPatching.Head;
import dev.loupe.tasks.ioi.IoiDataset.Corruption;
import dev.loupe.tasks.ioi.IoiPrompt.Word;
import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Gpt2Tokenizer;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** IOI measurements on small random models with GPT-2's vocabulary, against independent computations (float64). */
class IoiCircuitTest {

    private static final Gpt2Tokenizer GPT2 = Gpt2Tokenizer.bundled();

    private static HookedTransformer model(ModelConfig.Normalization norm, long seed) {
        ModelConfig cfg = ModelConfig.builder().nLayers(3).dModel(24).nHeads(4).dHead(6).dMlp(48).dVocab(50257).nCtx(32)
                .normalization(norm).dtype(DataType.FLOAT64).build();
        HookedTransformer m = HookedTransformer.create(cfg, seed).withTokenizer(GPT2);
        if (norm == ModelConfig.Normalization.LN) {
            // Layer-norm weights away from 1 and biases away from 0, so that leaving them out would show.
            java.util.Random r = new java.util.Random(seed);
            for (String name : m.stateDict().keySet()) {
                if (name.endsWith("ln1.w") || name.endsWith("ln1.b") || name.equals("ln_final.w")) {
                    double[] v = new double[24];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (name.endsWith(".w") ? 1 : 0) + 0.5 * r.nextGaussian();
                    }
                    m.setParameter(name, Tensors.ofDoubles(v, new Shape(24)));
                }
            }
        }
        return m;
    }

    @Test
    void directLogitAttributionEqualsTheCachesHeadStackOnAlignedPrompts() {
        HookedTransformer m = model(ModelConfig.Normalization.LN_PRE, 1);
        IoiDataset data = IoiDataset.standard(m);
        try (ActivationCache cache = m.runWithCache(data.tokens())) {
            LabelledStack stack = cache.applyLnToStack(cache.stackHeadResults(3, -1), 3, -1);
            NDArray expected = cache.logitAttrs(stack, data.ioTokens(), data.sTokens()).mean(new int[] {1}).reshape(3, 4);
            NDArray got = IoiCircuit.directLogitAttribution(cache, data).values();
            assertTrue(got.sub(expected).abs().max().getDouble() < 1e-10, got + " vs " + expected);
        }
    }

    @Test
    void theComponentsAddUpToTheLogitDifferenceOnPromptsOfAnyLength() {
        HookedTransformer m = model(ModelConfig.Normalization.LN_PRE, 9);
        IoiDataset data = IoiDataset.of(m, IoiDistribution.paper().sample(7, 2));
        try (ActivationCache cache = m.runWithCache(data.tokens())) {
            PatchingResult parts = IoiCircuit.componentAttribution(cache, data);
            assertEquals(List.of("embed", "pos_embed", "0_attn_out", "0_mlp_out", "1_attn_out", "1_mlp_out", "2_attn_out",
                    "2_mlp_out"), parts.labels().get(0));
            double bias = 0;
            int[] io = data.ioTokens();
            int[] s = data.sTokens();
            for (int i = 0; i < io.length; i++) {
                bias += (m.b_U().getDouble(io[i]) - m.b_U().getDouble(s[i])) / io.length;
            }
            // With layer norm's weights folded (LNPre), the final residual stream is exactly the sum of these parts.
            assertEquals(IoiCircuit.logitDiff(data, cache.logits()), parts.values().sum().getDouble() + bias, 1e-9);
        }
    }

    @Test
    void onPromptsOfDifferentLengthsEachIsReadAtItsOwnEnd() {
        HookedTransformer m = model(ModelConfig.Normalization.LN, 2);
        List<IoiPrompt> prompts = IoiDistribution.paper().sample(5, 3);
        IoiDataset all = IoiDataset.of(m, prompts);
        assertTrue(!all.endsAligned());
        NDArray dla;
        NDArray toIo;
        try (ActivationCache cache = m.runWithCache(all.tokens())) {
            dla = IoiCircuit.directLogitAttribution(cache, all).values();
            toIo = IoiCircuit.attention(cache, all, Word.END, Word.IO).values();
            NDArray pattern = cache.get("pattern", 2);
            int[] end = all.positions(Word.END);
            int[] io = all.positions(Word.IO);
            double byHand = 0;
            for (int i = 0; i < 5; i++) {
                byHand += pattern.getDouble(i, 1, end[i], io[i]) / 5;
            }
            assertEquals(byHand, toIo.getDouble(2, 1), 1e-12);
        }
        NDArray mean = null;
        for (IoiPrompt p : prompts) {
            IoiDataset one = IoiDataset.of(m, List.of(p));
            try (ActivationCache cache = m.runWithCache(one.tokens())) {
                NDArray d = IoiCircuit.directLogitAttribution(cache, one).values().div(5);
                mean = mean == null ? d : mean.add(d);
            }
        }
        assertTrue(dla.sub(mean).abs().max().getDouble() < 1e-10, "padded batch vs one prompt at a time");
    }

    @Test
    void copyScoresEqualTheDefinitionComputedEntryByEntry() {
        HookedTransformer m = model(ModelConfig.Normalization.LN, 4);
        IoiDataset data = IoiDataset.of(m, IoiDistribution.paper().sample(4, 8));
        try (ActivationCache cache = m.runWithCache(data.tokens())) {
            for (boolean negative : new boolean[] {false, true}) {
                NDArray got = IoiCircuit.copyScores(cache, data, negative, 200).values();
                for (int l = 0; l < 3; l++) {
                    for (int h = 0; h < 4; h++) {
                        assertEquals(copyScoreByHand(m, cache, data, l, h, negative, 200), got.getDouble(l, h), 1e-12,
                                "head " + l + "." + h + (negative ? " negative" : ""));
                    }
                }
            }
        }
    }

    /** Plain loops over the weights: layer norm, W_V, W_O, final layer norm weight, W_U, rank of the name. */
    private static double copyScoreByHand(HookedTransformer m, ActivationCache cache, IoiDataset data, int l, int h,
                                          boolean negative, int topK) {
        int d = 24;
        int dh = 6;
        double[] w = m.parameter("blocks." + l + ".ln1.w").toDoubleArray();
        double[] b = m.parameter("blocks." + l + ".ln1.b").toDoubleArray();
        double[] lnf = m.parameter("ln_final.w").toDoubleArray();
        double[] wv = m.W_V(l).get(h).toDoubleArray();    // [d, dh]
        double[] bv = m.b_V(l).get(h).toDoubleArray();
        double[] wo = m.W_O(l).get(h).toDoubleArray();    // [dh, d]
        double[] wu = m.W_U().toDoubleArray();            // [d, vocab]
        int vocab = 50257;
        NDArray resid = cache.get("resid_post", 0);
        int hits = 0;
        int count = 0;
        for (Word word : List.of(Word.IO, Word.S1)) {
            int[] pos = data.positions(word);
            int[] names = word == Word.IO ? data.ioTokens() : data.sTokens();
            for (int i = 0; i < data.size(); i++) {
                double[] x = resid.get(i + ", " + pos[i]).toDoubleArray();
                double mean = 0;
                for (double v : x) {
                    mean += v / d;
                }
                double sq = 0;
                for (int j = 0; j < d; j++) {
                    x[j] -= mean;
                    sq += x[j] * x[j] / d;
                }
                double scale = Math.sqrt(sq + m.config().eps());
                for (int j = 0; j < d; j++) {
                    x[j] = x[j] / scale * w[j] + b[j];
                }
                double[] v = bv.clone();
                for (int k = 0; k < dh; k++) {
                    for (int j = 0; j < d; j++) {
                        v[k] += x[j] * wv[j * dh + k];
                    }
                }
                double[] out = new double[d];
                double outMean = 0;
                for (int j = 0; j < d; j++) {
                    for (int k = 0; k < dh; k++) {
                        out[j] += v[k] * wo[k * d + j];
                    }
                    out[j] *= negative ? -1 : 1;
                    outMean += out[j] / d;
                }
                for (int j = 0; j < d; j++) {
                    out[j] = (out[j] - outMean) * lnf[j];
                }
                double[] logits = new double[vocab];
                for (int t = 0; t < vocab; t++) {
                    for (int j = 0; j < d; j++) {
                        logits[t] += out[j] * wu[j * vocab + t];
                    }
                }
                int above = 0;
                for (double z : logits) {
                    above += z > logits[names[i]] ? 1 : 0;
                }
                hits += above < topK ? 1 : 0;
                count++;
            }
        }
        return hits / (double) count;
    }

    @Test
    void ioiEvalAveragesTheDifferencesAndCountsThePositiveOnes() {
        HookedTransformer m = model(ModelConfig.Normalization.LN_PRE, 8);
        IoiDataset data = IoiDataset.of(m, IoiDistribution.paper().sample(10, 3));
        double[] diffs = data.logitDiffs(m.forward(data.tokens())).toDoubleArray();
        IoiCircuit.Eval eval = IoiCircuit.ioiEval(m, data);
        assertEquals(java.util.Arrays.stream(diffs).sum() / 10, eval.logitDiff(), 1e-12);
        assertEquals(java.util.Arrays.stream(diffs).filter(d -> d > 0).count() / 10.0, eval.accuracy(), 1e-12);
    }

    @Test
    void theRelativeChangeIsZeroForTheCleanRunAndMinusOneWithoutADifference() {
        HookedTransformer m = model(ModelConfig.Normalization.LN_PRE, 5);
        IoiDataset data = IoiDataset.of(m, IoiDistribution.paper().sample(6, 2));
        NDArray logits = m.forward(data.tokens());
        double clean = IoiCircuit.logitDiff(data, logits);
        var metric = IoiCircuit.relativeChange(data, clean);
        assertEquals(0, metric.apply(logits).getDouble(), 1e-12);
        // (x − clean) / |clean|: a random model's difference may be negative, so removing it reads +1 then.
        assertEquals(-Math.signum(clean), metric.apply(logits.zerosLike()).getDouble(), 1e-12);
        assertEquals(Math.signum(clean), metric.apply(logits.mul(2)).getDouble(), 1e-9, "twice the difference");
    }

    @Test
    void headsAreChosenByFractionOfTheStrongestAndByAttention() {
        double[] v = {-0.30, 0.05, Double.NaN, -0.08,
                      -0.10, 0.20, 0.06, -0.02};
        PatchingResult r = new PatchingResult("effects", Tensors.ofDoubles(v, new Shape(2, 4)), List.of("layer", "head"),
                List.of(List.of("0", "1"), List.of("H0", "H1", "H2", "H3")));
        assertEquals(List.of(new Head(0, 0), new Head(1, 0), new Head(0, 3)), IoiCircuit.strongest(r, -1, 0.25),
                "−0.30, −0.10 and −0.08 reach 0.25 × 0.30; −0.02 does not");
        assertEquals(List.of(new Head(1, 1), new Head(1, 2)), IoiCircuit.strongest(r, 1, 0.3), "0.20 and 0.06 ≥ 0.06");
        assertThrows(IllegalArgumentException.class, () -> IoiCircuit.strongest(r, 0, 0.3));
        assertEquals(List.of(new Head(0, 3)), IoiCircuit.strongest(r, -1, 0.3, List.of(new Head(0, 3), new Head(1, 3))),
                "among 0.3 (−0.08) and 1.3 (−0.02) the strongest is 0.3, and 0.02 < 0.3 × 0.08");
        assertEquals(List.of(new Head(1, 3)), IoiCircuit.strongest(r, -1, 0.25, List.of(new Head(1, 3))), "−0.02 ≥ MIN_EFFECT");
        PatchingResult tiny = new PatchingResult("noise", r.values().mul(0.02), r.axes(), r.labels());
        assertEquals(List.of(), IoiCircuit.strongest(tiny, 1, 0.25), "0.004 and less: below MIN_EFFECT");
        double[] a = {1, 1, 1, 1, 0, 0, 0, 0};
        PatchingResult ra = new PatchingResult("a", Tensors.ofDoubles(a, new Shape(2, 4)), r.axes(), r.labels());
        assertEquals(List.of(new Head(0, 0)), IoiCircuit.where(List.of(new Head(0, 0), new Head(1, 1)), ra, r));

        Map<String, List<Head>> found = new LinkedHashMap<>();
        found.put("name mover", List.of(new Head(9, 9), new Head(8, 1)));
        var table = IoiCircuit.compareWithPaper(found);
        assertEquals("9.9, 8.1", table.stringColumn("found").get(0));
        assertEquals("9.9, 9.6, 10.0", table.stringColumn("paper (GPT-2 small)").get(0));
        assertEquals("9.9", table.stringColumn("in both").get(0));
    }

    @Test
    void theSearchChainsTheStepsAndRunsThroughEmptyClasses() {
        HookedTransformer m = model(ModelConfig.Normalization.LN_PRE, 7);
        IoiDataset clean = IoiDataset.of(m, IoiDistribution.paper().sample(6, 5));
        IoiDataset abc = clean.corrupted(Corruption.ABC, IoiTemplates.NAMES, 6);
        // No floors: a random model's heads rarely attend to the IO more than to S, so this may still find no name movers.
        IoiCircuit.Rules rules = new IoiCircuit.Rules(0.25, 0.0, 0.0);
        IoiCircuit.Search search = IoiCircuit.search(m, clean, abc, rules);
        try (ActivationCache cc = m.runWithCache(clean.tokens()); ActivationCache ac = m.runWithCache(abc.tokens())) {
            PatchingResult direct = IoiCircuit.directEffects(m, clean, cc, ac);
            assertTrue(direct.values().sub(search.directEffects().values()).abs().max().getDouble() < 1e-12);
            List<Head> nameMovers = IoiCircuit.nameMovers(direct, IoiCircuit.Attention.of(cc, clean), rules);
            assertTrue(nameMovers.containsAll(search.classes().get("name mover")), "one label each: a subset of the rule's heads");
            if (nameMovers.isEmpty()) {
                assertNull(search.toNameMoverQueries(), "no name movers, no queries to patch into");
            } else {
                PatchingResult toQueries = IoiCircuit.effectsThrough(m, clean, cc, ac, nameMovers, "q");
                double[] expected = toQueries.values().toType(DataType.FLOAT64, false).toDoubleArray();
                double[] got = search.toNameMoverQueries().values().toType(DataType.FLOAT64, false).toDoubleArray();
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], got[i], 1e-12);
                }
            }
            assertEquals(IoiCircuit.logitDiff(clean, cc.logits()), search.cleanLogitDiff(), 1e-12);
        }
        assertEquals(IoiCircuit.CLASSES, List.copyOf(search.classes().keySet()).subList(0, IoiCircuit.CLASSES.size()));
        java.util.Set<Head> seen = new java.util.HashSet<>();
        for (List<Head> heads : search.classes().values()) {
            for (Head h : heads) {
                assertTrue(seen.add(h), h + " has two labels: " + search.classes());
            }
        }
        PatchingResult none = IoiCircuit.effectsThrough(m, clean, null, null, List.of(), "v");
        assertTrue(Double.isNaN(none.values().getDouble(0, 0)));
        assertEquals(List.of(), IoiCircuit.strongest(none, -1, 0.25));
        assertTrue(search.mimeBundle().data().get("text/html").contains("paper (GPT-2 small)"));
    }

    @Test
    void ablatingHeadsRescalesOnlyThroughTheFinalLayerNormAboveThem() {
        HookedTransformer m = model(ModelConfig.Normalization.LN_PRE, 6);
        IoiDataset data = IoiDataset.of(m, IoiDistribution.paper().sample(1, 4));
        IoiDataset abc = data.corrupted(Corruption.ABC, IoiTemplates.NAMES, 1);
        List<Head> ablated = List.of(new Head(2, 1));
        try (ActivationCache cache = m.runWithCache(data.tokens()); ActivationCache reference = m.runWithCache(abc.tokens())) {
            NDArray before = IoiCircuit.directLogitAttribution(cache, data).values();
            double clean = Math.abs(IoiCircuit.logitDiff(data, cache.logits()));
            NDArray change = IoiCircuit.dlaChangeWhenAblated(m, data, cache, ablated, reference).values().mul(clean);
            // Heads of layers 0 and 1 write the same output; only the final scale at the end differs, so each head's
            // attribution is multiplied by scale before / scale after, the same factor for all of them.
            double ratio = change.getDouble(0, 0) / before.getDouble(0, 0) + 1;
            for (int l = 0; l < 3; l++) {
                for (int h = 0; h < 4; h++) {
                    if (l == 2 && h == 1) {
                        continue;
                    }
                    assertEquals(ratio, change.getDouble(l, h) / before.getDouble(l, h) + 1, 1e-9, l + "." + h);
                }
            }
            assertNotEquals(ratio, change.getDouble(2, 1) / before.getDouble(2, 1) + 1, 1e-3, "the ablated head itself");
        }
    }
}
