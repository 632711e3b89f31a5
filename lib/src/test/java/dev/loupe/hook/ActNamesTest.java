package dev.loupe.hook;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.loupe.hook.ActNames.actName;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The examples of TransformerLens's get_act_name documentation, worked by hand. */
class ActNamesTest {

    @Test
    void shortNamesExpandAsTransformerLensDoes() {
        assertEquals("blocks.1.attn.hook_pattern", actName("pattern", 1));
        assertEquals("blocks.6.attn.hook_k", actName("k", 6, "a"));
        assertEquals("blocks.5.mlp.hook_pre", actName("pre5"));
        assertEquals("blocks.4.ln1.hook_scale", actName("scale4ln1"));
        assertEquals("blocks.2.attn.hook_pattern", actName("attn", 2));
        assertEquals("blocks.2.attn.hook_attn_scores", actName("attn_logits", 2));
        assertEquals("blocks.3.mlp.hook_post", actName("mlp_post", 3));
        assertEquals("blocks.0.hook_resid_pre", actName("resid_pre", 0));
        assertEquals("blocks.0.hook_resid_pre", actName("resid_pre", 0, "b"));
        assertEquals("ln_final.hook_scale", actName("scale"));
        assertEquals("hook_embed", actName("embed"));
        assertEquals("blocks.7.attn.hook_z", actName("blocks.7.attn.hook_z"));
    }

    @Test
    void layerIsReadFromTheFullName() {
        assertEquals(11, ActNames.layerOf("blocks.11.attn.hook_z"));
        assertEquals(-1, ActNames.layerOf("ln_final.hook_scale"));
    }

    @Test
    void closestNamesByEditDistance() {
        assertEquals(List.of("blocks.0.attn.hook_q", "blocks.0.attn.hook_k"),
                ActNames.closest("blocks.0.attn.hook_qq", List.of("hook_embed", "blocks.0.attn.hook_k", "blocks.0.attn.hook_q"), 2));
    }

    @Test
    void aLayerPastTheLastOneIsNamedAsSuch() {
        List<String> twoLayers = List.of("hook_embed", "blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern", "ln_final.hook_scale");
        assertEquals(" The model has 2 layers (0 to 1).", ActNames.layerHint("blocks.5.attn.hook_pattern", twoLayers));
        assertEquals("", ActNames.layerHint("blocks.1.attn.hook_patern", twoLayers));
        assertEquals("", ActNames.layerHint("hook_embedd", twoLayers));
        HookedTransformer model = HookedTransformer.create(ModelConfig.builder().nLayers(2).dModel(8).nHeads(2).dVocab(10).nCtx(4).build(), 0);
        try (ActivationCache cache = model.runWithCache(Tensors.tokens(1, 2))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cache.get("pattern", 5));
            assertTrue(e.getMessage().contains("The model has 2 layers (0 to 1)."), e.getMessage());
        }
        UnknownHookException e = assertThrows(UnknownHookException.class, () -> model.hookPoint("blocks.2.hook_resid_pre"));
        assertTrue(e.getMessage().contains("The model has 2 layers (0 to 1)."), e.getMessage());
    }
}
