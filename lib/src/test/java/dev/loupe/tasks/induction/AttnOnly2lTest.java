package dev.loupe.tasks.induction;

import dev.loupe.circuits.HeadDetector;
import dev.loupe.circuits.RepeatedTokens;
import dev.loupe.load.BundledModels;
import dev.loupe.load.ModelRegistry;
import dev.loupe.model.HookedTransformer;
import dev.loupe.train.TrainingLog;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The committed {@code loupe/attn-only-2l} meets the induction issue's bar, and the metrics behind the tutorial hold up. */
class AttnOnly2lTest {

    private static HookedTransformer model;
    private static RepeatedTokens probe;

    @BeforeAll
    static void load() {
        model = HookedTransformer.fromPretrained("loupe/attn-only-2l");
        probe = InductionMetrics.probe(model, 50, 50, model.tokenizer().orElseThrow().bosTokenId().getAsInt(), 12345);
    }

    @Test
    void itIsRegisteredAndComesWithItsTokenizer() {
        assertTrue(ModelRegistry.find("loupe/attn-only-2l").orElseThrow().isBundled());
        assertEquals(AttnOnly2l.VOCAB, model.config().dVocab());
        var tokenizer = model.tokenizer().orElseThrow();
        assertEquals(" jury", tokenizer.decode(tokenizer.encode(" jury"))); // GPT-2's tokens, restricted
    }

    @Test
    void layerZeroHasAPreviousTokenHeadAndLayerOneAnInductionHead() {
        double prev = InductionMetrics.bestHeadScore(model, probe, HeadDetector.Kind.PREVIOUS_TOKEN, 0);
        double induction = InductionMetrics.bestHeadScore(model, probe, HeadDetector.Kind.INDUCTION, 1);
        System.out.printf("attn-only-2l: best previous-token score (layer 0) %.3f, best induction score (layer 1) %.3f%n", prev, induction);
        assertTrue(prev >= 0.8, "previous-token score " + prev);
        assertTrue(induction >= 0.8, "induction score " + induction);
    }

    @Test
    void theRepeatedHalfIsAtLeastTwoNatsEasier() {
        double gap = InductionMetrics.repeatedHalfGap(model, probe);
        System.out.printf("attn-only-2l: repeated half %.3f nats below the first half%n", gap);
        assertTrue(gap >= 2, "gap " + gap);
    }

    @Test
    void theInductionScoreJumpsWhileTheInContextLearningScoreFalls() throws IOException {
        Path folder = BundledModels.folder("attn-only-2l");
        var change = InductionMetrics.phaseChange(TrainingLog.read(folder.resolve("metrics.csv")), 0.05, 0.2);
        System.out.printf("attn-only-2l: induction score 0.05 → 0.2 between steps %d and %d; ICL score %.3f → %.3f%n",
                change.fromStep(), change.toStep(), change.iclBefore(), change.iclAfter());
        // Within a tenth of training, before the synthetic windows turn into recurring spans, with the ICL score falling.
        assertTrue(change.toStep() - change.fromStep() <= AttnOnly2l.STEPS / 10, change.toString());
        assertTrue(change.toStep() < AttnOnly2l.SPANS_FROM, change.toString());
        assertTrue(change.iclAfter() < change.iclBefore() - 0.15, change.toString());
        assertTrue(Files.readString(folder.resolve("training.json")).contains("./loupe train attn-only-2l"));
    }
}
