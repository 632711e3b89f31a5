package dev.loupe.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelConfigTest {

    @Test
    void defaultsFollowTransformerLens() {
        ModelConfig c = ModelConfig.builder().nLayers(12).dModel(768).nHeads(12).dVocab(50257).nCtx(1024).build();
        assertEquals(64, c.dHead());
        assertEquals(3072, c.dMlp());
        assertEquals(50257, c.dVocabOut());
        assertEquals(0.8 / Math.sqrt(768), c.initRange(), 1e-15);
    }

    @Test
    void dModelNotDivisibleByHeadsNeedsAnExplicitDHead() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.builder().nLayers(1).dModel(40).nHeads(3).dVocab(5).nCtx(4).build());
        assertTrue(e.getMessage().contains("d_model (40) must be divisible by n_heads (3)"), e.getMessage());
        assertEquals(16, ModelConfig.builder().nLayers(1).dModel(40).nHeads(3).dHead(16).dVocab(5).nCtx(4).build().dHead());
    }

    @Test
    void invalidValuesAreNamed() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.builder().nLayers(0).dModel(8).nHeads(2).dVocab(5).nCtx(4).build());
        assertTrue(e.getMessage().contains("n_layers"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.builder().actFn("swish"));
        assertTrue(e.getMessage().contains("swish") && e.getMessage().contains("gelu_new"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.fromJson("{\"n_layers\": 1, \"d_model\": 8, \"n_heads\": 2, \"d_vocab\": 5}"));
        assertTrue(e.getMessage().contains("n_ctx"), e.getMessage());
    }

    @Test
    void jsonRoundTrips() {
        ModelConfig c = ModelConfig.builder().modelName("x").nLayers(2).dModel(32).nHeads(4).dVocab(10).dVocabOut(7)
                .nCtx(5).attnOnly(true).normalization(ModelConfig.Normalization.NONE)
                .positionalEmbedding(ModelConfig.PositionalEmbedding.SHORTFORMER).build();
        assertEquals(c, ModelConfig.fromJson(c.toJson()));
    }
}
