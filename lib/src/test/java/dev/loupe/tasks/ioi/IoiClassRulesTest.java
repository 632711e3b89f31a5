package dev.loupe.tasks.ioi;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ActivationCache;
import dev.loupe.hook.Hook;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.Ablations;
import dev.loupe.patching.PathPatching.Head;
import dev.loupe.patching.PatchingResult;
import dev.loupe.tasks.ioi.IoiCircuit.Attention;
import dev.loupe.tasks.ioi.IoiCircuit.Label;
import dev.loupe.tasks.ioi.IoiCircuit.Rules;
import dev.loupe.tasks.ioi.IoiDataset.Corruption;
import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Gpt2Tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The class rules' floors and structure, on hand-written measurements, and the circuit checks against per-head ablation. */
class IoiClassRulesTest {

    /** A [2 layers, 4 heads] result. */
    private static PatchingResult grid(double... v) {
        return new PatchingResult("g", Tensors.ofDoubles(v, new Shape(2, 4)), List.of("layer", "head"),
                List.of(List.of("0", "1"), List.of("H0", "H1", "H2", "H3")));
    }

    private static final PatchingResult ZERO = grid(0, 0, 0, 0, 0, 0, 0, 0);

    @Test
    void aHeadWithTwoTenThousandthsOfItsAttentionOnTheIoIsNoNameMover() {
        // 1.2 (the organism's 2.6) attends 0.0002 to the IO, more than to S1 and S2 together, and raises the logit difference.
        Attention a = new Attention(grid(0, 0, 0, 0, 0.5, 0, 0.0002, 0), grid(0, 0, 0, 0, 0.1, 0, 0.0001, 0),
                grid(0, 0, 0, 0, 0.1, 0, 0.00007, 0), ZERO, ZERO, ZERO);
        PatchingResult direct = grid(0, 0, 0, 0, -0.3, 0, 0.03, 0);
        assertEquals(List.of(new Head(1, 0)), IoiCircuit.nameMovers(direct, a, Rules.DEFAULT));
        assertEquals(List.of(), IoiCircuit.negativeNameMovers(direct, a, Rules.DEFAULT), "0.0002 < the 0.1 floor");
        assertEquals(List.of(new Head(1, 2)), IoiCircuit.negativeNameMovers(direct, a, new Rules(0.25, 0.02, 0.0001)),
                "with a floor below its attention it would be one: the floor is what excludes it");
        assertEquals(List.of(), IoiCircuit.nameMovers(grid(0, 0, 0, 0, -0.01, 0, 0, 0), a, Rules.DEFAULT),
                "an effect of 1% is below the 2% floor");
        assertThrows(IllegalArgumentException.class, () -> new Rules(0.25, -1, 0.1));
    }

    @Test
    void aLayerZeroHeadIsNeverInduction() {
        // 0.1 and 1.1 attend alike from S2 to the token after S1, with the same effect on the S-inhibition heads' values.
        Attention a = new Attention(ZERO, ZERO, ZERO, grid(0, 0.1, 0.9, 0, 0, 0.1, 0, 0), grid(0, 0.8, 0.05, 0, 0, 0.8, 0, 0), ZERO);
        PatchingResult toValues = grid(0, -0.4, -0.3, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        assertEquals(List.of(), IoiCircuit.inductionHeads(toValues, a, Rules.DEFAULT), "layer 0 has nothing to compose with");
        assertEquals(List.of(new Head(0, 2)), IoiCircuit.duplicateTokenHeads(toValues, a, Rules.DEFAULT));
        PatchingResult fromLayer0 = grid(-0.2, 0, 0, 0, -0.4, -0.4, 0, 0);
        assertEquals(List.of(new Head(1, 1)), IoiCircuit.inductionHeads(fromLayer0, a, Rules.DEFAULT));
    }

    @Test
    void patchingIntoLayerZeroHeadsIsStructurallyEmpty() {
        ModelConfig cfg = ModelConfig.builder().nLayers(2).dModel(16).nHeads(2).dHead(8).dMlp(32).dVocab(50257).nCtx(32)
                .dtype(DataType.FLOAT64).build();
        HookedTransformer m = HookedTransformer.create(cfg, 3).withTokenizer(Gpt2Tokenizer.bundled());
        IoiDataset clean = IoiDataset.of(m, IoiDistribution.paper().sample(2, 1));
        PatchingResult r = IoiCircuit.effectsThrough(m, clean, null, null, List.of(new Head(0, 1)), "k");
        assertTrue(r.title().contains("no receivers"), r.title());
        assertTrue(Double.isNaN(r.values().getDouble(0, 0)));
    }

    @Test
    void aHeadThatFitsNoClassIsDescribedByWhatItDoes() {
        Attention a = new Attention(grid(0.02, 0.5, 0, 0, 0, 0, 0, 0), grid(0, 0.1, 0, 0, 0, 0, 0, 0),
                grid(0.98, 0.1, 0, 0, 0, 0, 0, 0), ZERO, ZERO, ZERO);
        assertEquals("attends to S2, writes against S: suppression", IoiCircuit.describe(new Head(0, 0), -0.9, a, Rules.DEFAULT));
        assertEquals("attends to S2, copies S", IoiCircuit.describe(new Head(0, 0), 0.2, a, Rules.DEFAULT));
        assertEquals("attends to the IO, writes against it", IoiCircuit.describe(new Head(0, 1), 0.2, a, Rules.DEFAULT));
        assertEquals("attends to no name, lowers the logit difference", IoiCircuit.describe(new Head(1, 0), 0.2, a, Rules.DEFAULT));
        Attention alike = new Attention(grid(0.495, 0, 0, 0, 0, 0, 0, 0), grid(0.496, 0, 0, 0, 0, 0, 0, 0), ZERO, ZERO, ZERO, ZERO);
        assertEquals("attends to S1 and the IO alike, raises the logit difference", IoiCircuit.describe(new Head(0, 0), -0.16, alike, Rules.DEFAULT));
    }

    private static IoiCircuit.Search labelled(Map<Head, String> labels) {
        Map<Head, Label> l = new LinkedHashMap<>();
        Map<String, List<Head>> classes = new LinkedHashMap<>();
        IoiCircuit.CLASSES.forEach(c -> classes.put(c, new ArrayList<>()));
        labels.forEach((h, c) -> {
            l.put(h, new Label(c, -0.5));
            classes.computeIfAbsent(c, k -> new ArrayList<>()).add(h);
        });
        return new IoiCircuit.Search(1, 0, null, null, null, null, null, null, null, l, classes);
    }

    @Test
    void aLabelIsGivenOnlyIfItHoldsOnBothPromptSamples() {
        var first = labelled(Map.of(new Head(2, 7), "name mover", new Head(0, 6), "induction", new Head(1, 3), "S-inhibition"));
        var second = labelled(Map.of(new Head(2, 7), "name mover", new Head(0, 6), "duplicate token"));
        IoiCircuit.Stability s = IoiCircuit.stable(first, second);
        assertEquals(List.of(new Head(2, 7)), s.classes().get("name mover"));
        assertEquals(List.of(), s.classes().get("induction"));
        assertEquals(List.of(), s.classes().get("duplicate token"));
        assertEquals("induction / duplicate token", s.withheld().get(new Head(0, 6)));
        assertEquals("S-inhibition / none", s.withheld().get(new Head(1, 3)));
    }

    @Test
    void twoSearchesOnTwoSamplesAgreeOrWithhold() {
        ModelConfig cfg = ModelConfig.builder().nLayers(3).dModel(24).nHeads(4).dHead(6).dMlp(48).dVocab(50257).nCtx(32)
                .normalization(ModelConfig.Normalization.LN_PRE).dtype(DataType.FLOAT64).build();
        HookedTransformer m = HookedTransformer.create(cfg, 7).withTokenizer(Gpt2Tokenizer.bundled());
        IoiDataset a = IoiDataset.of(m, IoiDistribution.paper().sample(6, 1));
        IoiDataset b = IoiDataset.of(m, IoiDistribution.paper().sample(6, 2));
        var first = IoiCircuit.search(m, a, a.corrupted(Corruption.ABC, IoiTemplates.NAMES, 3), Rules.DEFAULT);
        var second = IoiCircuit.search(m, b, b.corrupted(Corruption.ABC, IoiTemplates.NAMES, 4), Rules.DEFAULT);
        IoiCircuit.Stability s = IoiCircuit.stable(first, second);
        s.classes().forEach((c, heads) -> heads.forEach(h -> {
            assertEquals(c, first.labels().get(h).label());
            assertEquals(c, second.labels().get(h).label());
        }));
        for (Head h : first.labels().keySet()) {
            assertTrue(s.withheld().containsKey(h) || s.classes().get(first.labels().get(h).label()).contains(h), h.toString());
        }
        IoiCircuit.Stability same = IoiCircuit.stable(first, first);
        assertTrue(same.withheld().isEmpty());
        for (var e : first.classes().entrySet()) {
            assertEquals(e.getValue(), same.classes().get(e.getKey()));
        }
        // Structure: no induction head in layer 0, and no patching into keys without an induction head.
        assertTrue(first.classes().get("induction").stream().allMatch(h -> h.layer() > 0));
        if (first.classes().get("induction").isEmpty() && first.labels().values().stream().noneMatch(l -> l.label().equals("induction"))) {
            assertNull(first.toInductionKeys());
        }
    }

    private static HookedTransformer small(long seed) {
        ModelConfig cfg = ModelConfig.builder().nLayers(2).dModel(24).nHeads(3).dHead(8).dMlp(48).dVocab(50257).nCtx(32)
                .normalization(ModelConfig.Normalization.LN_PRE).dtype(DataType.FLOAT64).build();
        return HookedTransformer.create(cfg, seed).withTokenizer(Gpt2Tokenizer.bundled());
    }

    private static double ablatingEach(HookedTransformer m, IoiDataset d, ActivationCache ref, List<Head> heads) {
        Hook[] hooks = heads.stream().map(h -> Ablations.meanHead(h.layer(), h.head(), ref)).toArray(Hook[]::new);
        return IoiCircuit.logitDiff(d, m.runWithHooks(d.tokens(), hooks));
    }

    @Test
    void theCircuitChecksAgreeWithAblatingHeadByHead() {
        HookedTransformer m = small(5);
        IoiDataset d = IoiDataset.of(m, IoiDistribution.paper().sample(4, 3));
        IoiDataset abc = d.corrupted(Corruption.ABC, IoiTemplates.NAMES, 5);
        List<Head> all = List.of(new Head(0, 0), new Head(0, 1), new Head(0, 2), new Head(1, 0), new Head(1, 1), new Head(1, 2));
        Map<String, List<Head>> classes = new LinkedHashMap<>();
        classes.put("x", List.of(new Head(1, 1), new Head(0, 2)));
        classes.put("y", List.of(new Head(1, 0)));
        List<Head> outside = List.of(new Head(0, 0), new Head(0, 1), new Head(1, 2));
        try (ActivationCache ref = m.runWithCache(abc.tokens())) {
            double whole = IoiCircuit.logitDiff(d, m.forward(d.tokens()));
            assertEquals(whole, CircuitChecks.keepOnly(m, d, ref, all), 1e-9, "keeping every head changes nothing");
            assertEquals(ablatingEach(m, d, ref, all), CircuitChecks.keepOnly(m, d, ref, List.of()), 1e-9);
            CircuitChecks.Faithfulness f = CircuitChecks.faithfulness(m, d, ref, CircuitChecks.circuit(classes));
            assertEquals(whole, f.model(), 1e-9);
            assertEquals(ablatingEach(m, d, ref, outside), f.circuit(), 1e-9);
            CircuitChecks.Completeness c = CircuitChecks.completeness(m, d, ref, CircuitChecks.circuit(classes),
                    Map.of("y", classes.get("y")));
            assertEquals(f.circuit(), c.rows().get(0).circuit(), 1e-9);
            assertEquals(whole, c.rows().get(0).model(), 1e-9);
            List<Head> outsideAndY = new ArrayList<>(outside);
            outsideAndY.add(new Head(1, 0));
            assertEquals(ablatingEach(m, d, ref, outsideAndY), c.rows().get(1).circuit(), 1e-9);
            assertEquals(ablatingEach(m, d, ref, List.of(new Head(1, 0))), c.rows().get(1).model(), 1e-9);
            CircuitChecks.Minimality min = CircuitChecks.minimality(m, d, ref, classes);
            var first = min.rows().get(0);   // v = 1.1, K = [0.2]
            assertEquals(new Head(1, 1), first.head());
            assertEquals(List.of(new Head(0, 2)), first.k());
            List<Head> kOut = new ArrayList<>(outside);
            kOut.add(new Head(0, 2));
            assertEquals(ablatingEach(m, d, ref, kOut), first.without(), 1e-9);
            kOut.add(new Head(1, 1));
            assertEquals(ablatingEach(m, d, ref, kOut), first.withoutHead(), 1e-9);
            assertFalse(min.toTable().isEmpty());
        }
    }
}
