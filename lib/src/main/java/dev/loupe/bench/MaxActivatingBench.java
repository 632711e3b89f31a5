package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.FeatureActivations;
import dev.loupe.sae.FeatureStats;
import dev.loupe.sae.Sae;
import dev.loupe.sae.SaeConfig;
import dev.loupe.tensor.Tensors;
import dev.loupe.train.BrownCorpus;
import dev.loupe.train.TokenWindows;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * maxActivating over 1,000,000 tokens of the Brown corpus (windows of 64) through {@code loupe/ioi-organism} (4 layers,
 * d_model 128) with a random ReLU SAE of 1,024 features on {@code blocks.2.hook_resid_pre}, k = 20: tokens per second,
 * the part that is the model and the encoder alone, the encoder's matrix product at libtorch's speed, and peak memory.
 * Run: {@code ./loupe bench max-activating [TOKENS]}.
 */
public final class MaxActivatingBench {

    private static final String HOOK = "blocks.2.hook_resid_pre";
    private static final int D_SAE = 1024;
    private static final int CTX = 64;

    public static void main(String[] args) throws IOException {
        int tokens = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        HookedTransformer model = HookedTransformer.fromPretrained("loupe/ioi-organism");
        TokenWindows corpus = new TokenWindows(model.tokenizer().orElseThrow(),
                BrownCorpus.documents(BrownCorpus.fetch(Path.of("target/data"))), 1, CTX, 0, 0);
        NDArray all = corpus.consecutive();
        int windows = tokens / CTX;
        if (windows > all.getShape().get(0)) {
            throw new IllegalArgumentException("The corpus has " + all.getShape().get(0) * CTX + " tokens, fewer than " + tokens);
        }
        NDArray windowsArray = all.get("0:" + windows);
        int dModel = model.config().dModel();
        Sae sae = randomSae(dModel);

        FeatureActivations.maxActivating(model, sae, windowsArray.get("0:200"), 20); // warm-up
        long rssBefore = MemorySoak.rssBytes();
        Tensors.resetPeak();
        long t0 = System.nanoTime();
        FeatureStats stats = FeatureActivations.maxActivating(model, sae, windowsArray, 20);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long nativePeak = Tensors.peakBytes();

        int batch = (int) (FeatureActivations.BATCH_ACTIVATIONS / ((long) CTX * D_SAE));
        long t1 = System.nanoTime();
        for (int first = 0; first < windows; first += batch) {
            try (NDScope scope = new NDScope()) {
                FeatureActivations.of(model, sae, windowsArray.get(first + ":" + Math.min(windows, first + batch))).toFloatArray();
            }
        }
        double encodeOnly = (System.nanoTime() - t1) / 1e9;

        NDArray x = Tensors.ofFloats(new float[batch * CTX * dModel], new Shape((long) batch * CTX, dModel));
        x.matMul(sae.W_enc()).close();
        long t2 = System.nanoTime();
        for (int i = 0; i < 5; i++) {
            x.matMul(sae.W_enc()).close();
        }
        double gemm = (System.nanoTime() - t2) / 5e9;
        double gemmFlops = 2.0 * batch * CTX * dModel * D_SAE;

        System.out.printf("maxActivating, %s, random ReLU SAE d_sae %d at %s, k 20, %,d tokens in windows of %d%n",
                model.config().modelName(), D_SAE, HOOK, stats.tokens(), CTX);
        System.out.printf("  whole pass       %.2f s  %,.0f tokens/s  (dead features %d, median density %.3f)%n",
                seconds, stats.tokens() / seconds, stats.deadFeatures(), median(stats.densities()));
        System.out.printf("  model + encoder  %.2f s  (blocks 0-1 and x W_enc, activations copied out; no statistics)%n", encodeOnly);
        System.out.printf("  encoder GEMM     [%d, %d] x [%d, %d]: %.1f GFLOP/s here, %.2f s of the pass at that rate%n",
                batch * CTX, dModel, dModel, D_SAE, gemmFlops / gemm / 1e9, gemm * Math.ceil((double) windows / batch));
        System.out.printf("  peak native arrays %.0f MB; peak RSS %.0f MB (%.0f MB before the pass)%n", nativePeak / 1e6,
                LoadBench.peakRssBytes() / 1e6, rssBefore / 1e6);
    }

    /** ReLU SAE with SAELens-like initial scales; a negative encoder bias keeps most features off on most tokens. */
    private static Sae randomSae(int dModel) {
        SaeConfig cfg = SaeConfig.standard(HOOK, dModel, D_SAE);
        Random r = new Random(0);
        Map<String, NDArray> w = new LinkedHashMap<>();
        Sae.parameterShapes(cfg).forEach((name, shape) -> {
            float[] v = new float[(int) shape.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = name.equals("b_enc") ? -0.5f : name.equals("b_dec") ? 0f : (float) (r.nextGaussian() / Math.sqrt(dModel));
            }
            w.put(name, Tensors.ofFloats(v, shape));
        });
        return Sae.fromWeights(cfg, w);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
