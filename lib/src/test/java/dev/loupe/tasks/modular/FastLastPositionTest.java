package dev.loupe.tasks.modular;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.model.HookedTransformer;

import org.junit.jupiter.api.Test;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The short way against the model's own full forward pass at the last position (float64, 1e-10). */
class FastLastPositionTest {

    @Test
    void logitsAndLossEqualTheFullForwardPass() {
        ModularAddition task = new ModularAddition(23, 0.3, 5);
        HookedTransformer model = HookedTransformer.create(task.modelConfig(DataType.FLOAT64, 2).toBuilder()
                .dModel(32).nHeads(4).dHead(8).dMlp(64).initRange(0.3).build());
        NDArray tokens = task.testTokens();
        NDArray full = model.forward(tokens).get(":, 2, :");
        assertClose(full, FastLastPosition.logits(model, tokens), 1e-10, 1e-10, "last-position logits");
        NDArray labels = task.testLabels();
        double expected = full.logSoftmax(-1).gather(labels.reshape(-1, 1), 1).mean().neg().getDouble();
        assertEquals(expected, FastLastPosition.loss(model, tokens, labels).getDouble(), 1e-10);
    }
}
