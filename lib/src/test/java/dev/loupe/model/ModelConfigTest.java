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

    /** Every architecture option at once, as a Gemma-3-like and a GPT-J-like model combine them. */
    static ModelConfig everyOption() {
        return ModelConfig.builder().modelName("every-option").nLayers(3).dModel(32).nHeads(4).dHead(10).nKeyValueHeads(2)
                .dMlp(24).dVocab(50).nCtx(64).actFn(ModelConfig.ActFn.SILU).normalization(ModelConfig.Normalization.RMS)
                .positionalEmbedding(ModelConfig.PositionalEmbedding.ROTARY).rotaryDim(8).rotaryAdjacentPairs(true)
                .rotaryBase(1e6).rotaryBaseLocal(1e4).ropeScaling(ModelConfig.RopeScaling.llama3(8, 1, 4, 64)).windowSize(5)
                .attnTypes(java.util.List.of(ModelConfig.AttnType.LOCAL, ModelConfig.AttnType.GLOBAL, ModelConfig.AttnType.LOCAL))
                .attnScale(3.0).attnScoresSoftCap(50).outputLogitsSoftCap(30).useQkNorm(true).gatedMlp(true)
                .postNorms(true).build();
    }

    @Test
    void architectureOptionsSurviveJsonAndTheBuilder() {
        ModelConfig c = everyOption();
        assertEquals(c, ModelConfig.fromJson(c.toJson()));
        assertEquals(c, c.toBuilder().build());
        ModelConfig parallel = ModelConfig.builder().nLayers(2).dModel(16).nHeads(2).dVocab(10).nCtx(8)
                .parallelAttnMlp(true).parallelSharedNorm(true).build();
        assertEquals(parallel, ModelConfig.fromJson(parallel.toJson()));
    }

    @Test
    void changingTheHeadsOfACopyDoesNotKeepTheOldDerivedSettings() {
        ModelConfig plain = ModelConfig.builder().nLayers(1).dModel(16).nHeads(4).dVocab(10).nCtx(8).build();
        ModelConfig fewer = plain.toBuilder().nHeads(2).build(); // key/value heads and the score scale follow
        assertEquals(2, fewer.nKeyValueHeads());
        assertEquals(Math.sqrt(fewer.dHead()), fewer.attnScale());
        assertThrows(IllegalArgumentException.class, () -> everyOption().toBuilder().nKeyValueHeads(3).build());
    }
}
