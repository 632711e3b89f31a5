package dev.loupe.sae;

import dev.loupe.display.MimeBundle;
import dev.loupe.model.HookedTransformer;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import javax.imageio.ImageIO;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A feature's view renders in every MIME type, and its logit effects are W_dec[i] @ W_U worked out by hand. */
class FeatureViewTest {

    private final HookedTransformer model = FeatureActivationsTest.tinyModel();
    private final Sae sae = FeatureActivationsTest.randomSae(SaeConfig.standard("blocks.1.hook_resid_pre", 16, 40), 7);
    private final FeatureStats stats = FeatureActivations.maxActivating(model, sae, FeatureActivationsTest.windows(3), 4);

    private static int busiest(FeatureStats stats) {
        int best = 0;
        for (int f = 0; f < stats.dSae(); f++) {
            if (stats.firings(f) > stats.firings(best)) {
                best = f;
            }
        }
        return best;
    }

    /** Distinct colours in the PNG: a blank or single-colour image has one or two. */
    private static int colours(MimeBundle bundle) throws Exception {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(bundle.data().get(MimeBundle.PNG))));
        Set<Integer> seen = new HashSet<>();
        for (int y = 0; y < img.getHeight(); y += 2) {
            for (int x = 0; x < img.getWidth(); x += 2) {
                seen.add(img.getRGB(x, y));
            }
        }
        return seen.size();
    }

    @Test
    void theViewHasHtmlAPngThatIsNotBlankAndText() throws Exception {
        int f = busiest(stats);
        FeatureView view = stats.feature(f);
        MimeBundle bundle = view.mimeBundle();
        String html = bundle.data().get(MimeBundle.HTML);
        assertTrue(html.contains("Feature " + f) && html.contains("outline:2px solid"), "title and the outlined top token");
        assertTrue(bundle.text().contains("Feature " + f), bundle.text());
        assertTrue(colours(bundle) > 20, "the PNG draws coloured tokens and charts");
        FeatureView.Context top = view.contexts().get(0);
        assertEquals(stats.max(f), top.activations()[top.top()], 1e-6 * stats.max(f), "the outlined token is the maximum");
        assertEquals(stats.top(f).size(), view.contexts().size());
        MimeBundle dashboard = stats.dashboard(f, (f + 1) % 40).mimeBundle();
        assertTrue(dashboard.data().containsKey(MimeBundle.HTML) && colours(dashboard) > 20);
        assertTrue(colours(stats.mimeBundle()) > 3, "the density histogram");
    }

    @Test
    void promotedAndSuppressedTokensAreTheExtremesOfTheDecoderRowTimesTheUnembedding() {
        double[] wDec = sae.W_dec().toDoubleArray();
        double[] wU = model.W_U().toDoubleArray();
        int vocab = model.config().dVocab();
        for (int f : new int[] {0, 17, 39}) {
            double[] effect = new double[vocab];
            for (int t = 0; t < vocab; t++) {
                for (int d = 0; d < 16; d++) {
                    effect[t] += wDec[f * 16 + d] * wU[d * vocab + t];
                }
            }
            List<Integer> order = java.util.stream.IntStream.range(0, vocab).boxed()
                    .sorted((a, b) -> Double.compare(effect[b], effect[a])).toList();
            FeatureView.LogitEffects got = FeatureView.logitEffects(model, sae, f, 10);
            for (int i = 0; i < 10; i++) {
                assertEquals(order.get(i), got.promoted().get(i).token(), "feature " + f + " promoted " + i);
                assertEquals(effect[order.get(i)], got.promoted().get(i).value(), 1e-12);
                assertEquals(order.get(vocab - 1 - i), got.suppressed().get(i).token(), "feature " + f + " suppressed " + i);
            }
            assertEquals("#" + order.get(0), got.promoted().get(0).text(), "a model without a tokenizer shows ids");
        }
    }

    @Test
    void anSaeThatDoesNotWriteTheResidualStreamWidthHasNoLogitEffectsAndSaysWhy() throws Exception {
        Sae neurons = FeatureActivationsTest.randomSae(SaeConfig.standard("blocks.0.mlp.hook_post", 32, 24), 9);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FeatureView.logitEffects(model, neurons, 0, 10));
        assertTrue(e.getMessage().contains("d_out 32") && e.getMessage().contains("d_model (16)"), e.getMessage());
        FeatureStats s = FeatureActivations.maxActivating(model, neurons, FeatureActivationsTest.windows(4), 3);
        MimeBundle bundle = s.feature(busiest(s)).mimeBundle();
        assertTrue(bundle.data().get(MimeBundle.HTML).contains("No logit effects"));
        assertTrue(colours(bundle) > 20);
        assertThrows(IllegalArgumentException.class, () -> FeatureView.of(s, model, sae, 0), "stats of another SAE");
    }
}
