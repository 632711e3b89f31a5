package dev.loupe.display;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Gpt2Tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Writes one HTML page per kind of bundle, for docs/screenshots/make.sh to photograph with headless Chromium.
 * Not a check: it runs only when asked, {@code -Dloupe.screenshots=DIR}.
 */
@EnabledIfSystemProperty(named = "loupe.screenshots", matches = ".+")
class ScreenshotPages {

    private static void page(String name, MimeBundle b) throws Exception {
        Path dir = Path.of(System.getProperty("loupe.screenshots"));
        Files.createDirectories(dir);
        String html = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + name + "</title></head>"
                + "<body style=\"margin:16px;background:#fff;color:#222;overflow:hidden;\">" + b.data().get(MimeBundle.HTML)
                + "</body></html>";
        Files.writeString(dir.resolve(name + ".html"), html);
        if (b.data().containsKey(MimeBundle.PNG)) {
            Files.write(dir.resolve(name + ".bundle.png"), java.util.Base64.getDecoder().decode(b.data().get(MimeBundle.PNG)));
        }
        Files.writeString(dir.resolve(name + ".txt"), b.text());
    }

    @Test
    void writePages() throws Exception {
        Random r = new Random(0);
        // a 2-D array with structure: a diagonal stripe and a smooth signed field
        int n = 48;
        float[] v = new float[n * 64];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 64; j++) {
                v[i * 64 + j] = (float) (Math.sin(i / 7.0) * Math.cos(j / 9.0) + (j == i ? 2.5 : 0) + r.nextGaussian() * 0.1);
            }
        }
        page("ndarray-2d", Display.bundleOf(Tensors.ofFloats(v, new Shape(n, 64))));

        float[] w = new float[768];
        double x = 0;
        for (int i = 0; i < w.length; i++) {
            x = 0.97 * x + r.nextGaussian() * 0.3;
            w[i] = (float) x;
        }
        w[447] = 6.5f; // an outlier dimension, as the residual stream has
        page("ndarray-1d", Display.bundleOf(Tensors.ofFloats(w, new Shape(1, 768))));

        ModelConfig cfg = ModelConfig.builder().modelName("gpt2-small-shaped").nLayers(12).dModel(768).nHeads(12)
                .dVocab(50257).nCtx(1024).build();
        HookedTransformer model = HookedTransformer.create(cfg, 0).withTokenizer(Gpt2Tokenizer.bundled());
        page("model", Display.bundleOf(model));

        HookedTransformer small = HookedTransformer.create(ModelConfig.builder().modelName("toy").nLayers(4).dModel(64)
                .nHeads(4).dVocab(50257).nCtx(64).build(), 1).withTokenizer(Gpt2Tokenizer.bundled());
        NDArray tokens = small.toTokens("When John and Mary went to the shops,");
        try (ActivationCache cache = small.runWithCache(tokens)) {
            page("cache", Display.bundleOf(cache));
        }

        List<String> strs = small.toStrTokens("When John and Mary went to the shops, John gave a drink to Mary."
                + " Afterwards the two of them walked home together and talked about the weather, the news and"
                + " the price of bread, which had gone up again this week, as it had the week before.");
        int rows = strs.size() + 20; // past the 50 shown, so the page ends with the "more rows" line
        String[] tok = new String[rows];
        int[] pos = new int[rows];
        double[] logit = new double[rows];
        for (int i = 0; i < rows; i++) {
            tok[i] = strs.get(i % strs.size());
            pos[i] = i % strs.size();
            logit[i] = Math.round(r.nextGaussian() * 3000) / 1000.0;
        }
        page("table", Display.bundleOf(Table.create("logit of the next token", IntColumn.create("pos", pos),
                StringColumn.create("token", tok), DoubleColumn.create("logit", logit))));

        AtomicLong clock = new AtomicLong();
        Display.setSink(Display.Sink.discarding(true));
        try {
            ProgressBar running = ProgressBar.start("Training", 5000, clock::get);
            clock.addAndGet(12_300_000_000L);
            running.update(2150);
            MimeBundle runningNow = running.mimeBundle();
            ProgressBar bytes = ProgressBar.start("Downloading gpt2/model.safetensors", 548_105_171, Html::bytes,
                    clock::get);
            clock.addAndGet(4_000_000_000L);
            bytes.update(548_105_171);
            bytes.done();
            String both = runningNow.data().get(MimeBundle.HTML) + bytes.mimeBundle().data().get(MimeBundle.HTML);
            page("progress", MimeBundle.text(runningNow.text() + "\n" + bytes.mimeBundle().text()).withHtml(both));
        } finally {
            Display.setSink(null);
        }
    }
}
