package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.Hook;
import dev.loupe.model.HookSession;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeadDetectorTest {

    private static final int HALF = 20;
    private static final int BOS = 0;
    private static final int POS = 1 + 2 * HALF;

    private final HookedTransformer model = HookedTransformer.create(ModelConfig.builder().nLayers(2).dModel(16).nHeads(4)
            .dVocab(20000).nCtx(64).build(), 0);
    private final RepeatedTokens rep = RepeatedTokens.generate(2, HALF, 20000, 3, BOS);

    /**
     * Replaces layer 1's patterns: head 0 attends exactly to the previous token, head 1 is an exact induction head
     * (from the repeat to the token after the first occurrence; BOS elsewhere), head 2 attends uniformly to every
     * position so far; head 3 keeps the model's own pattern.
     */
    private HookSession forcedPatterns() {
        return model.hooks(Hook.of("blocks.1.attn.hook_pattern", (pattern, hook) -> {
            Shape s = pattern.getShape();
            float[] p = pattern.toFloatArray();
            int batch = (int) s.get(0);
            int heads = (int) s.get(1);
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < 3; h++) {
                    int base = (b * heads + h) * POS * POS;
                    java.util.Arrays.fill(p, base, base + POS * POS, 0f);
                    for (int q = 0; q < POS; q++) {
                        switch (h) {
                            case 0 -> p[base + q * POS + Math.max(q - 1, 0)] = 1f;
                            case 1 -> p[base + q * POS + (q > HALF ? q - (HALF - 1) : 0)] = 1f;
                            default -> {
                                for (int k = 0; k <= q; k++) {
                                    p[base + q * POS + k] = 1f / (q + 1);
                                }
                            }
                        }
                    }
                }
            }
            return Tensors.ofFloats(p, s);
        }));
    }

    @Test
    void theRandomBlocksHaveNoAccidentalRepeats() {
        // The hand-computed expectations below assume each token occurs once per block (true for this seed).
        long[] ids = rep.tokens().toLongArray();
        for (int b = 0; b < 2; b++) {
            Set<Long> seen = new HashSet<>();
            for (int i = 1; i <= HALF; i++) {
                assertTrue(seen.add(ids[b * POS + i]));
            }
        }
    }

    @Test
    void exactHeadsScoreOneAndAUniformHeadItsAverageWeight() {
        Map<HeadDetector.Kind, HeadScores> scores;
        try (HookSession forced = forcedPatterns()) {
            scores = HeadDetector.scoreAll(model, rep.tokens());
        }
        HeadScores prev = scores.get(HeadDetector.Kind.PREVIOUS_TOKEN);
        HeadScores dup = scores.get(HeadDetector.Kind.DUPLICATE_TOKEN);
        HeadScores ind = scores.get(HeadDetector.Kind.INDUCTION);
        assertEquals(new Shape(2, 4), prev.scores().getShape());
        assertEquals("previous_token_head", prev.name());

        // Uniform attention gives each query q weight 1/(q + 1) per target. Previous token: queries 1..POS-1.
        double uniformPrev = 0;
        for (int q = 1; q < POS; q++) {
            uniformPrev += 1.0 / (q + 1);
        }
        uniformPrev /= POS - 1;
        // Duplicate and induction: one target for each query of the repeat, q = HALF+1 .. 2*HALF.
        double uniformRepeat = 0;
        for (int q = HALF + 1; q < POS; q++) {
            uniformRepeat += 1.0 / (q + 1);
        }
        uniformRepeat /= HALF;

        assertEquals(1.0, prev.get(1, 0), 1e-6);
        assertEquals(0.0, dup.get(1, 0), 1e-6);
        assertEquals(0.0, ind.get(1, 0), 1e-6);

        assertEquals(1.0, ind.get(1, 1), 1e-6);
        assertEquals(0.0, dup.get(1, 1), 1e-6);
        assertEquals(1.0 / (POS - 1), prev.get(1, 1), 1e-6, "only query 1 (attending to BOS) hits its previous token");

        assertEquals(uniformPrev, prev.get(1, 2), 1e-6);
        assertEquals(uniformRepeat, dup.get(1, 2), 1e-6);
        assertEquals(uniformRepeat, ind.get(1, 2), 1e-6);

        assertEquals(prev.get(1, 0), prev.top(1).get(0).score(), 1e-12);
        assertTrue(prev.toString().contains("L1"), prev.toString());
    }

    @Test
    void theHooksAreGoneAfterTheSessionAndScoresAreFractions() {
        try (HookSession forced = forcedPatterns()) {
            assertEquals(1.0, HeadDetector.induction(model, rep.tokens()).get(1, 1), 1e-6);
        }
        HeadScores ind = HeadDetector.induction(model, rep.tokens());
        assertTrue(ind.get(1, 1) < 0.5, "the model's own head 1.1 is not an induction head: " + ind.get(1, 1));
        float[] all = ind.scores().toFloatArray();
        for (float v : all) {
            assertTrue(v >= 0 && v <= 1 + 1e-6);
        }
    }

    @Test
    void transformerLensDetectHeadMeasures() {
        try (HookSession forced = forcedPatterns()) {
            // mul: attention on the pattern's ones over all attention. The exact previous-token head puts row 0's
            // weight on itself, where the detection pattern has nothing: (POS - 1) / POS. Excluding BOS removes rows
            // 0's and 1's weight (both on position 0) from numerator and denominator alike: 1.
            HeadScores mul = HeadDetector.detectHead(model, rep.tokens(), HeadDetector.Kind.PREVIOUS_TOKEN, false, false,
                    HeadDetector.ErrorMeasure.MUL);
            assertEquals((POS - 1.0) / POS, mul.get(1, 0), 1e-6);
            HeadScores noBos = HeadDetector.detectHead(model, rep.tokens(), HeadDetector.Kind.PREVIOUS_TOKEN, true, false,
                    HeadDetector.ErrorMeasure.MUL);
            assertEquals(1.0, noBos.get(1, 0), 1e-6);
            // abs: 1 - sum |pattern - detection| / POS; only row 0 differs, by 1 (attends to 0, pattern says nothing).
            HeadScores abs = HeadDetector.detectHead(model, rep.tokens(), HeadDetector.Kind.PREVIOUS_TOKEN, false, false,
                    HeadDetector.ErrorMeasure.ABS);
            assertEquals(1 - 1.0 / POS, abs.get(1, 0), 1e-6);
            // Excluding the current token zeroes the diagonal of the difference, which is where row 0 differs.
            HeadScores absNoSelf = HeadDetector.detectHead(model, rep.tokens(), HeadDetector.Kind.PREVIOUS_TOKEN, false, true,
                    HeadDetector.ErrorMeasure.ABS);
            assertEquals(1.0, absNoSelf.get(1, 0), 1e-6);
        }
    }

    @Test
    void detectionPatternsAsTransformerLensDefinesThem() {
        NDArray tokens = Tensors.tokens(5, 7, 5, 7, 9);
        float[] prev = HeadDetector.detectionPattern(tokens, HeadDetector.Kind.PREVIOUS_TOKEN).toFloatArray();
        float[] dup = HeadDetector.detectionPattern(tokens, HeadDetector.Kind.DUPLICATE_TOKEN).toFloatArray();
        float[] ind = HeadDetector.detectionPattern(tokens, HeadDetector.Kind.INDUCTION).toFloatArray();
        assertArrayEquals(new float[] {
                0, 0, 0, 0, 0,
                1, 0, 0, 0, 0,
                0, 1, 0, 0, 0,
                0, 0, 1, 0, 0,
                0, 0, 0, 1, 0}, prev);
        assertArrayEquals(new float[] {
                0, 0, 0, 0, 0,
                0, 0, 0, 0, 0,
                1, 0, 0, 0, 0,   // the second 5 looks back at the first
                0, 1, 0, 0, 0,   // the second 7 at the first
                0, 0, 0, 0, 0}, dup);
        assertArrayEquals(new float[] {
                0, 0, 0, 0, 0,
                0, 0, 0, 0, 0,
                0, 1, 0, 0, 0,   // after the first 5 came 7 (position 1)
                0, 0, 1, 0, 0,   // after the first 7 came 5 (position 2)
                0, 0, 0, 0, 0}, ind);
        assertEquals(new Shape(1, 5, 5), HeadDetector.detectionPattern(tokens, HeadDetector.Kind.INDUCTION).getShape());
    }

    @Test
    void clearErrors() {
        var cache = model.runWithCache(rep.tokens(), n -> n.endsWith("hook_embed"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HeadDetector.score(cache, rep.tokens(), HeadDetector.Kind.INDUCTION));
        assertTrue(e.getMessage().contains("hook_pattern"), e.getMessage());
        var patterns = model.runWithCache(rep.tokens(), n -> n.endsWith("hook_pattern"));
        e = assertThrows(IllegalArgumentException.class,
                () -> HeadDetector.score(patterns, Tensors.tokens(1, 2, 3), HeadDetector.Kind.INDUCTION));
        assertTrue(e.getMessage().contains("shape"), e.getMessage());
        NDArray noRepeats = model.toTokens(new int[] {1, 2, 3, 4});
        e = assertThrows(IllegalArgumentException.class, () -> HeadDetector.induction(model, noRepeats));
        assertTrue(e.getMessage().contains("RepeatedTokens"), e.getMessage());
        assertEquals(DataType.FLOAT32, HeadDetector.previousToken(model, noRepeats).scores().getDataType());
    }
}
