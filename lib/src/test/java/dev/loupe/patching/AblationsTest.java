package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

import dev.loupe.ReferenceCase;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;

import org.junit.jupiter.api.Test;

import static dev.loupe.ReferenceCase.assertClose;

/** Each ablation against an independent route to the same model: edited weights, or the numpy reference. */
class AblationsTest {

    private final ReferenceCase ref = ReferenceCase.load("gpt2_like");
    private final HookedTransformer model = ref.model(DataType.FLOAT32);
    private final NDArray tokens = ref.tokens();

    @Test
    void zeroHeadIsTheReferenceWithoutThatHead() {
        assertClose(ref.expected().get("ablated_logits"), model.runWithHooks(tokens, Ablations.zeroHead(1, 2)), 5e-5, 5e-5, "zeroHead");
    }

    @Test
    void zeroNeuronAndZeroLayerEqualZeroedWeights() {
        NDArray byHook = model.runWithHooks(tokens, Ablations.zeroNeuron(0, 17), Ablations.zeroLayer("attn_out", 1));
        HookedTransformer edited = ref.model(DataType.FLOAT32);
        NDArray W_out = edited.W_out(0).duplicate();
        W_out.set(new NDIndex("17, :"), 0f); // neuron 17 writes nothing
        edited.setParameter("blocks.0.mlp.W_out", W_out);
        edited.setParameter("blocks.1.attn.W_O", edited.W_O(1).zerosLike());
        edited.setParameter("blocks.1.attn.b_O", edited.b_O(1).zerosLike());
        assertClose(edited.forward(tokens), byHook, 1e-5, 1e-5, "hooks vs zeroed weights");
    }

    @Test
    void meanAndResampleAblationOnTheRunItselfChangeNothing() {
        NDArray one = tokens.get("0:1");
        NDArray twice = NDArrays.concat(new NDList(one, one), 0);
        try (ActivationCache same = model.runWithCache(twice); ActivationCache itself = model.runWithCache(one)) {
            NDArray plain = model.forward(one);
            assertClose(plain, model.runWithHooks(one, Ablations.meanHead(1, 3, same), Ablations.meanNeuron(0, 5, same)),
                    1e-5, 1e-5, "mean over copies of the same prompt");
            assertClose(plain, model.runWithHooks(one, Ablations.resampleHead(0, 1, itself)), 1e-6, 0, "resample from itself");
        }
    }

    @Test
    void resampleFromAnotherPromptIsThatPromptsHeadOutput() {
        NDArray a = tokens.get("0:1");
        NDArray b = tokens.get("1:2");
        try (ActivationCache other = model.runWithCache(b)) {
            NDArray resampled = model.runWithHooks(a, Ablations.resampleHead(0, 2, other));
            NDArray expected = model.runWithHooks(a, dev.loupe.hook.Hook.of("blocks.0.attn.hook_z", (z, h) -> {
                NDArray copy = z.duplicate();
                copy.set(new NDIndex(":, :, 2, :"), other.get("z", 0).get(":, :, 2, :"));
                return copy;
            }));
            assertClose(expected, resampled, 0, 0, "resample");
        }
    }
}
