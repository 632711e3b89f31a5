package dev.loupe.tasks.ioi;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.PatchingResult;
import dev.loupe.patching.PathPatching.Head;
import dev.loupe.patching.PathPatching;
import dev.loupe.tasks.ioi.IoiDataset.Corruption;
import dev.loupe.tensor.BudgetRuns;
import dev.loupe.tokenize.Gpt2Tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Path patching at the size that ran GPT-2 small's IOI tutorial out of memory: a GPT-2-small-shaped model (random
 * weights, GPT-2's vocabulary) and 60 IOI prompts against their ABC corruption. A small memory budget must give the
 * numbers a large one gives, in more chunks, and keep its peak inside the budget.
 */
class Gpt2ShapedPathPatchingTest {

    @Test
    void sixtyPromptsUnderASmallBudgetGiveTheNumbersOfALargeOne() {
        ModelConfig gpt2 = ModelConfig.builder().modelName("gpt2-small-shaped").nLayers(12).dModel(768).nHeads(12)
                .dMlp(3072).dVocab(50257).nCtx(1024).build();
        HookedTransformer model = HookedTransformer.create(gpt2, 0).withTokenizer(Gpt2Tokenizer.bundled());
        IoiDistribution names = IoiDistribution.paper().singleTokenNames(model.tokenizer().orElseThrow());
        IoiDataset clean = IoiDataset.of(model, names.sample(60, 1));
        IoiDataset abc = clean.corrupted(Corruption.ABC, names.names(), 2);
        // Senders in layer 0 reaching two layer-1 heads' queries: every step of path patching (the frozen run up to the
        // receivers, the receivers' run to the logits over 11 blocks), at a twelfth of the cost of every sender layer.
        List<Head> receivers = List.of(new Head(1, 3), new Head(1, 8));
        try (ActivationCache cleanCache = model.runWithCache(clean.tokens());
             ActivationCache abcCache = model.runWithCache(abc.tokens())) {
            var large = BudgetRuns.under("16g", () -> PathPatching.toReceivers(model, clean.tokens(), cleanCache, abcCache,
                    receivers, "q", clean.logitDiff()));
            long perSender = large.peakBytes() / 11; // one sender measured alone, then the other 11 at once
            long budget = 3 * perSender;
            var small = BudgetRuns.under(String.valueOf(budget), () -> PathPatching.toReceivers(model, clean.tokens(), cleanCache,
                    abcCache, receivers, "q", clean.logitDiff()));
            assertTrue(small.peakBytes() <= budget, "peak " + small.peakBytes() + " over the budget " + budget);
            double[] expected = grid(large.result());
            double[] actual = grid(small.result());
            for (int h = 0; h < 12; h++) {
                assertEquals(expected[h], actual[h], 1e-5 + 1e-5 * Math.abs(expected[h]), "sender 0." + h);
            }
            double unpatched = IoiCircuit.logitDiff(clean, cleanCache.logits());
            assertTrue(java.util.Arrays.stream(expected, 0, 12).anyMatch(v -> Math.abs(v - unpatched) > 1e-4),
                    "some sender changes the logit difference (" + unpatched + ")");
        }
    }

    private static double[] grid(PatchingResult r) {
        return r.values().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
    }
}
