package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.display.Display;
import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;
import dev.loupe.tokenize.Gpt2Tokenizer;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelAndCacheViewTest {

    private static final int LAYERS = 2;
    private static final int D = 16;
    private static final int HEADS = 4;
    private static final int D_HEAD = 4;
    private static final int D_MLP = 64;
    private static final int VOCAB = 50;
    private static final int CTX = 12;

    private static HookedTransformer toy() {
        return HookedTransformer.create(ModelConfig.builder().modelName("toy<2>").nLayers(LAYERS).dModel(D).nHeads(HEADS)
                .dVocab(VOCAB).nCtx(CTX).actFn("gelu_new").build(), 1);
    }

    private static int count(String s, String what) {
        Matcher m = Pattern.compile(Pattern.quote(what)).matcher(s);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    @Test
    void aModelShowsItsConfigAndParameterCount() {
        HookedTransformer model = toy();
        // GPT-2 layout, counted by hand: embeddings, per layer (2 layer norms, Q/K/V/O with biases, MLP), final LN, unembed
        long perLayer = 2 * D + 3 * (HEADS * D * D_HEAD + HEADS * D_HEAD) + HEADS * D_HEAD * D + D
                + 2 * D + D * D_MLP + D_MLP + D_MLP * D + D;
        long expected = VOCAB * D + CTX * D + LAYERS * perLayer + 2 * D + D * VOCAB + VOCAB;

        MimeBundle b = Display.bundleOf(model);
        assertEquals(model.toString(), b.text());
        String html = b.data().get(MimeBundle.HTML);
        assertTrue(html.contains(String.format(Locale.ROOT, "%,d", expected)), html);
        assertTrue(html.contains(Html.bytes(expected * 4)), "float32 weights take " + Html.bytes(expected * 4));
        for (String[] row : new String[][] {{"n_layers", "2"}, {"d_model", "16"}, {"heads × d_head", "4 × 4"},
                {"d_mlp", "64"}, {"act_fn", "gelu_new"}, {"normalization", "LN"}, {"n_ctx", "12"}, {"d_vocab", "50"}}) {
            assertTrue(html.matches("(?s).*>" + Pattern.quote(row[0]) + "</th><td[^>]*>" + Pattern.quote(row[1]) + "</td>.*"),
                    row[0] + " = " + row[1] + " missing in " + html);
        }
        assertTrue(html.contains("toy&lt;2&gt;") && !html.contains("toy<2>"), html);
        assertTrue(html.contains("none (pass token ids"), html);
        assertFalse(html.contains("<script"));
    }

    @Test
    void aModelWithATokenizerSaysWhich() {
        HookedTransformer model = HookedTransformer.create(ModelConfig.builder().nLayers(1).dModel(8).nHeads(2)
                .dVocab(50257).nCtx(8).attnOnly(true).build(), 2).withTokenizer(Gpt2Tokenizer.bundled());
        String html = Display.bundleOf(model).data().get(MimeBundle.HTML);
        assertTrue(html.contains("Gpt2Tokenizer, 50,257 tokens"), html);
        assertTrue(html.contains("none (attention only)"), html);
    }

    @Test
    void aClosedModelStillRenders() {
        HookedTransformer model = toy();
        model.close();
        MimeBundle b = Display.bundleOf(model);
        assertTrue(b.text().contains("(closed"), b.text());
    }

    @Test
    void aCacheShowsItsKeysGroupedByLayerWithShapesAndMemory() {
        HookedTransformer model = toy();
        NDArray tokens = model.toTokens(new int[] {1, 2, 3, 4, 5});
        try (ActivationCache cache = model.runWithCache(tokens)) {
            MimeBundle b = Display.bundleOf(cache);
            assertEquals(cache.toString(), b.text());
            String html = b.data().get(MimeBundle.HTML);

            Set<String> suffixes = new LinkedHashSet<>();
            Set<String> outside = new LinkedHashSet<>();
            long bytes = 0;
            for (String key : cache.keys()) {
                Matcher m = Pattern.compile("blocks\\.(\\d+)\\.(.+)").matcher(key);
                if (m.matches()) {
                    suffixes.add(m.group(2));
                } else {
                    outside.add(key);
                }
                bytes += cache.get(key).getShape().size() * 4;
            }
            assertTrue(suffixes.size() > 10 && outside.contains("hook_embed"), suffixes + " " + outside);
            for (String s : suffixes) {
                assertTrue(html.contains(">" + s + "</td>"), s);
            }
            for (String s : outside) {
                assertTrue(html.contains(">" + s + "</td>"), s);
            }
            // the grid has a row per hook point in blocks (plus the memory row); every layer has every one
            String grid = html.substring(html.lastIndexOf("<tbody>"));
            assertEquals(suffixes.size() + 1, count(grid, "<tr>"));
            assertEquals(suffixes.size() * LAYERS, count(grid, "●"));
            assertTrue(html.contains(">attn.hook_pattern</td><td style=\"" + Html.TD + Html.MONO + "\">[1, 4, 5, 5]</td>"), html);
            assertTrue(html.contains(Html.bytes(bytes)), "total memory " + Html.bytes(bytes));
            assertTrue(html.contains("logits [1, 5, 50]"), html);
        }
    }

    @Test
    void aFilteredCacheShowsOnlyWhatItHolds() {
        HookedTransformer model = toy();
        try (ActivationCache cache = model.runWithCache(model.toTokens(new int[] {1, 2, 3}),
                n -> n.endsWith("hook_pattern") && n.startsWith("blocks.1."))) {
            String html = Display.bundleOf(cache).data().get(MimeBundle.HTML);
            String grid = html.substring(html.lastIndexOf("<tbody>"));
            assertEquals(2, count(grid, "<tr>"));
            assertEquals(1, count(grid, "●"));
            assertTrue(html.contains("1 activation in 1 layer"), html);
            cache.close();
            assertTrue(Display.bundleOf(cache).data().get(MimeBundle.HTML).contains("(closed)"));
        }
    }
}
