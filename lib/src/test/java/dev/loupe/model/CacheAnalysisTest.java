package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.ReferenceCase;
import dev.loupe.cache.LabelledStack;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Residual-stream decompositions in float64 against the numpy reference: parts must add up to the reference's
 * residual stream and, through the final layer norm and W_U, to its logits (1e-9: the same sums in double).
 */
class CacheAnalysisTest {

    static final double TOL = 1e-9;

    @Test
    void decompositionAddsUpToTheResidualStreamAndHeadsToTheAttentionOutput() {
        ReferenceCase ref = ReferenceCase.load("gpt2_like");
        HookedTransformer model = ref.model(DataType.FLOAT64);
        try (ActivationCache cache = model.runWithCache(ref.tokens())) {
            LabelledStack parts = cache.decomposeResid(2, false, null);
            assertEquals(List.of("embed", "pos_embed", "0_attn_out", "0_mlp_out", "1_attn_out", "1_mlp_out"), parts.labels());
            assertClose(ref.expected().get("blocks.1.hook_resid_post"), parts.sum(), TOL, TOL, "parts add up to resid_post");
            LabelledStack midParts = cache.decomposeResid(1, true, -1);
            assertClose(ref.expected().get("blocks.1.hook_resid_mid").get(":, -1"), midParts.sum(), TOL, TOL, "mlp input of layer 1");

            LabelledStack heads = cache.stackHeadResults(2, null); // from z and W_O: hook_result was not cached
            assertEquals(8, heads.labels().size());
            assertEquals("L1H3", heads.labels().get(7));
            assertClose(ref.expected().get("blocks.1.attn.hook_result").get(":, :, 3, :"), heads.get("L1H3"), TOL, TOL, "head 1.3");
            NDArray attnOut = heads.values().get("4:8").sum(new int[] {0}).add(model.b_O(1));
            assertClose(ref.expected().get("blocks.1.hook_attn_out"), attnOut, TOL, TOL, "heads + b_O = attn_out");

            LabelledStack accumulated = cache.accumulatedResid(2, true, null);
            assertEquals(List.of("0_pre", "0_mid", "1_pre", "1_mid", "final_post"), accumulated.labels());
            assertClose(ref.expected().get("blocks.1.hook_resid_mid"), accumulated.get("1_mid"), TOL, TOL, "1_mid");
        }
    }

    @Test
    void directLogitAttributionsAddUpToTheReferenceLogits() {
        ReferenceCase ref = ReferenceCase.load("odd_shapes"); // LNPre: the final norm is centring and scaling only
        HookedTransformer model = ref.model(DataType.FLOAT64);
        int[] answers = {1, 5, 6};
        int[] wrong = {2, 0, 3};
        try (ActivationCache cache = model.runWithCache(ref.tokens())) {
            LabelledStack parts = cache.applyLnToStack(cache.decomposeResid(3, false, -1), 3, -1);
            assertClose(ref.expected().get("ln_final.hook_normalized").get(":, -1"), parts.sum(), TOL, TOL, "normalised parts");
            NDArray attrs = cache.logitAttrs(parts, answers, wrong); // [component, batch]
            NDArray logits = ref.expected().get("logits");
            NDArray b_U = model.b_U();
            for (int b = 0; b < 3; b++) {
                double expected = logits.getDouble(b, 8, answers[b]) - logits.getDouble(b, 8, wrong[b])
                        - (b_U.getDouble(answers[b]) - b_U.getDouble(wrong[b]));
                assertEquals(expected, attrs.get(":, " + b).sum().getDouble(), TOL, "logit difference of prompt " + b);
            }
        }
    }
}
