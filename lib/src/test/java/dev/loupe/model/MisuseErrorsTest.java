package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.patching.Patching;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Mistakes a researcher makes get a message saying what was expected and what came, not a libtorch or null error. */
class MisuseErrorsTest {

    private final ModelConfig cfg = ModelConfig.builder().modelName("tiny").nLayers(2).dModel(16).nHeads(2)
            .dVocab(20).nCtx(8).build();
    private final HookedTransformer model = HookedTransformer.create(cfg, 1);
    private final NDArray tokens = Tensors.tokens(3, 1, 4, 1, 5);

    @Test
    void int32TokensGiveTheSameResultsAsInt64() {
        NDArray int32 = tokens.toType(DataType.INT32, false);
        assertArrayEquals(model.forward(tokens).toFloatArray(), model.forward(int32).toFloatArray());
        assertArrayEquals(model.runWithCache(tokens).get("pattern", 1).toFloatArray(),
                model.runWithCache(int32).get("pattern", 1).toFloatArray());
        assertEquals(model.loss(tokens).getFloat(), model.loss(int32).getFloat());
    }

    @Test
    void aClosedCacheOrModelSaysWhichWasClosed() {
        ActivationCache cache = model.runWithCache(tokens);
        cache.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> cache.get("pattern", 0));
        assertTrue(e.getMessage().contains("ActivationCache") && e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, cache::logits);

        HookedTransformer closed = HookedTransformer.create(cfg, 2);
        closed.close();
        e = assertThrows(IllegalStateException.class, () -> closed.forward(tokens));
        assertTrue(e.getMessage().contains("tiny") && e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, closed::W_E);
    }

    @Test
    void aMetricReturningNullIsNamed() {
        ActivationCache clean = model.runWithCache(tokens);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Patching.residPre(model, tokens, clean, logits -> null));
        assertTrue(e.getMessage().contains("metric") && e.getMessage().contains("null"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> model.runWithGradCache(tokens, n -> true, logits -> null));
        assertTrue(e.getMessage().contains("metric") && e.getMessage().contains("null"), e.getMessage());
    }

    @Test
    void aCacheFromAnotherModelIsRefusedNamingBoth() {
        HookedTransformer wider = HookedTransformer.create(cfg.toBuilder().modelName("wider").dModel(24).build(), 1);
        ActivationCache other = wider.runWithCache(tokens);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Patching.residPre(model, tokens, other, logits -> logits.get("0, -1, 2")));
        assertTrue(e.getMessage().contains("another model") && e.getMessage().contains("wider")
                && e.getMessage().contains("tiny"), e.getMessage());
    }
}
