package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.TableView;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookSession;
import dev.loupe.model.HookedTransformer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * How well an SAE reconstructs a model's activations, over some token batches:
 * <ul>
 * <li>{@code l0}: mean number of active features per token</li>
 * <li>{@code explainedVariance}: 1 − Σ‖y − ŷ‖² / Σ‖y − ȳ‖² (ȳ the mean over the tokens)</li>
 * <li>{@code mse}: mean over tokens of ‖y − ŷ‖² (summed over the width, as the training loss)</li>
 * <li>next-token cross-entropy: clean, with the SAE spliced in (no error term), and with the activation it replaces
 *     zero-ablated and mean-ablated (its mean over the tokens at every position); the fraction of CE loss recovered
 *     against each ablation, (CE_ablated − CE_sae) / (CE_ablated − CE_clean)</li>
 * <li>dead features (never active over the tokens), dense features (active on more than {@link #DENSE} of them), and
 *     each feature's firing density</li>
 * </ul>
 * Reconstruction and feature statistics leave out position 0 when {@code dropBos}; cross-entropies are over every
 * predicted position.
 */
public record SaeEvaluation(long tokens, double l0, double explainedVariance, double mse, double ceClean, double ceSae,
                            double ceZeroAblation, double ceMeanAblation, int deadFeatures, int denseFeatures,
                            double[] density) implements Displayable {

    /** Features firing on more than this fraction of tokens count as dense. */
    public static final double DENSE = 0.1;

    /** (CE_zero − CE_sae) / (CE_zero − CE_clean). */
    public double ceRecoveredZero() {
        return (ceZeroAblation - ceSae) / (ceZeroAblation - ceClean);
    }

    /** (CE_mean − CE_sae) / (CE_mean − CE_clean). */
    public double ceRecoveredMean() {
        return (ceMeanAblation - ceSae) / (ceMeanAblation - ceClean);
    }

    /** Counts of features by log10 firing density in {@code bins} equal bins over [−{@code decades}, 0]; dead ones left out. */
    public int[] densityHistogram(int bins, int decades) {
        int[] counts = new int[bins];
        for (double d : density) {
            if (d > 0) {
                int bin = (int) Math.floor((Math.log10(d) + decades) / decades * bins);
                counts[Math.max(0, Math.min(bins - 1, bin))]++;
            }
        }
        return counts;
    }

    /** Evaluates {@code sae} on {@code model} over the token batches [batch, ctx]. */
    public static SaeEvaluation of(HookedTransformer model, Sae sae, List<NDArray> tokenBatches, boolean dropBos) {
        boolean errorTerm = sae.usesErrorTerm();
        sae.useErrorTerm(false);
        try {
            return evaluate(model, sae, tokenBatches, dropBos);
        } finally {
            sae.useErrorTerm(errorTerm);
        }
    }

    private static SaeEvaluation evaluate(HookedTransformer model, Sae sae, List<NDArray> batches, boolean dropBos) {
        String in = sae.hookName();
        String out = sae.hookNameOut();
        double residual = 0;
        double sumSquares = 0;
        double active = 0;
        long rows = 0;
        double ceClean = 0;
        long predicted = 0;
        double[] ySum = null;
        double[] firing = new double[sae.dSae()];
        NDArray meanActivation = null;
        long meanCount = 0;
        for (NDArray tokens : batches) {
            try (NDScope scope = new NDScope();
                 ActivationCache cache = model.runWithCache(tokens, n -> n.equals(in) || n.equals(out))) {
                NDArray ce = HookedTransformer.crossEntropyPerToken(cache.logits(), tokens);
                ceClean += sum(ce);
                predicted += ce.size();
                NDArray full = cache.get(out);
                NDArray batchSum = full.toType(DataType.FLOAT64, false).sum(new int[] {0, 1});
                meanActivation = meanActivation == null ? keep(batchSum) : keep(meanActivation.add(batchSum));
                meanCount += full.getShape().get(0) * full.getShape().get(1);
                NDArray x = rows(cache.get(in), dropBos);
                NDArray y = rows(full, dropBos);
                NDArray f = sae.encode(x);
                NDArray yHat = sae.forward(x).toType(DataType.FLOAT64, false);
                NDArray y64 = y.toType(DataType.FLOAT64, false);
                residual += sum(y64.sub(yHat).square());
                sumSquares += sum(y64.square());
                double[] s = y64.sum(new int[] {0}).toDoubleArray();
                ySum = ySum == null ? s : add(ySum, s);
                NDArray on = f.gt(0).toType(DataType.FLOAT64, false);
                active += sum(on);
                double[] perFeature = on.sum(new int[] {0}).toDoubleArray();
                for (int i = 0; i < firing.length; i++) {
                    firing[i] += perFeature[i];
                }
                rows += x.getShape().get(0);
            }
        }
        double meanSquare = 0;
        for (double v : ySum) {
            meanSquare += (v / rows) * (v / rows);
        }
        double totalVariance = sumSquares - rows * meanSquare;
        NDArray mean = meanActivation.div(meanCount);
        double ceSae = 0;
        double ceZero = 0;
        double ceMean = 0;
        for (NDArray tokens : batches) {
            try (NDScope scope = new NDScope()) {
                try (HookSession s = model.saes(sae)) {
                    ceSae += ceSum(model.forward(tokens), tokens);
                }
                ceZero += ceSum(model.runWithHooks(tokens, Hook.of(out, (a, h) -> a.zerosLike())), tokens);
                ceMean += ceSum(model.runWithHooks(tokens, Hook.of(out,
                        (a, h) -> a.zerosLike().add(mean.toType(a.getDataType(), false)))), tokens);
            }
        }
        mean.close();
        int dead = 0;
        int dense = 0;
        double[] density = new double[firing.length];
        for (int i = 0; i < firing.length; i++) {
            density[i] = firing[i] / rows;
            dead += firing[i] == 0 ? 1 : 0;
            dense += density[i] > DENSE ? 1 : 0;
        }
        return new SaeEvaluation(rows, active / rows, 1 - residual / totalVariance, residual / rows, ceClean / predicted,
                ceSae / predicted, ceZero / predicted, ceMean / predicted, dead, dense, density);
    }

    private static double ceSum(NDArray logits, NDArray tokens) {
        return sum(HookedTransformer.crossEntropyPerToken(logits, tokens));
    }

    private static NDArray rows(NDArray act, boolean dropBos) {
        NDArray a = dropBos ? act.get(":, 1:") : act;
        return a.reshape(a.getShape().get(0) * a.getShape().get(1), -1);
    }

    private static double sum(NDArray a) {
        return a.toType(DataType.FLOAT64, false).sum().getDouble();
    }

    private static double[] add(double[] a, double[] b) {
        double[] c = a.clone();
        for (int i = 0; i < c.length; i++) {
            c[i] += b[i];
        }
        return c;
    }

    private static NDArray keep(NDArray a) {
        NDScope.unregister(a);
        return a;
    }

    /** The metrics by name, for a log or a JSON file. */
    public Map<String, Double> metrics() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("tokens", (double) tokens);
        m.put("l0", l0);
        m.put("explained_variance", explainedVariance);
        m.put("mse", mse);
        m.put("ce_clean", ceClean);
        m.put("ce_with_sae", ceSae);
        m.put("ce_zero_ablation", ceZeroAblation);
        m.put("ce_mean_ablation", ceMeanAblation);
        m.put("ce_recovered_vs_zero", ceRecoveredZero());
        m.put("ce_recovered_vs_mean", ceRecoveredMean());
        m.put("dead_features", (double) deadFeatures);
        m.put("dense_features_over_10pct", (double) denseFeatures);
        return m;
    }

    public Table table() {
        Map<String, Double> m = metrics();
        return Table.create("SAE evaluation").addColumns(StringColumn.create("metric", m.keySet()),
                DoubleColumn.create("value", m.values().stream().mapToDouble(Double::doubleValue).toArray()));
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("SaeEvaluation");
        metrics().forEach((k, v) -> s.append(String.format(Locale.ROOT, "%n  %-28s %.6g", k, v)));
        return s.toString();
    }

    @Override
    public MimeBundle mimeBundle() {
        return MimeBundle.text(toString()).withHtml(TableView.bundle(table()).data().get(MimeBundle.HTML));
    }
}
