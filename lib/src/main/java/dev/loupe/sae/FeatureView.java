package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.model.HookedTransformer;
import dev.loupe.plot.Chart;
import dev.loupe.plot.Panels;
import dev.loupe.plot.Plot;
import dev.loupe.plot.Tokens;
import dev.loupe.tokenize.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One feature as SAE-Vis shows it: its top-activating contexts as coloured tokens (the feature's activation on each
 * token of a window around the top token, which is outlined), a histogram of its positive activations, the tokens its
 * decoder direction promotes and suppresses through the unembedding, and its density.
 *
 * <p>The promoted and suppressed tokens are the largest and smallest entries of {@code W_dec[i] @ W_U}: what the
 * feature's write would do to the logits directly, were it read by the unembedding with nothing in between (no final
 * layer norm, no later layers). An SAE on the residual stream writes there; an SAE or transcoder writing
 * {@code hook_attn_out} or {@code hook_mlp_out} writes d_model-wide directions that are added to the residual stream
 * unchanged, so the same product is its direct effect. Where the SAE writes something of another width ({@code hook_z},
 * MLP neurons) its directions are not in the residual stream and there is no such product: the view says so and
 * {@link #logitEffects} refuses.
 */
public final class FeatureView implements Displayable {

    /** Promoted and suppressed tokens shown. */
    static final int LOGITS = 10;
    /** Contexts per feature in a dashboard. */
    static final int DASHBOARD_CONTEXTS = 3;

    /** A token's direct logit effect: entry {@code token} of {@code W_dec[i] @ W_U}. */
    public record TokenEffect(int token, String text, double value) {}

    /** The {@code n} tokens a feature's decoder direction promotes most and suppresses most, largest effect first. */
    public record LogitEffects(List<TokenEffect> promoted, List<TokenEffect> suppressed) {}

    /** One top context: its tokens, the feature's activation on each, and which token is the top one. */
    public record Context(FeatureStats.Example example, long[] tokens, double[] activations, int top) {}

    private final FeatureStats stats;
    private final int feature;
    private final List<Context> contexts;
    private final LogitEffects logits;
    private final String noLogits;

    private FeatureView(FeatureStats stats, int feature, List<Context> contexts, LogitEffects logits, String noLogits) {
        this.stats = stats;
        this.feature = feature;
        this.contexts = contexts;
        this.logits = logits;
        this.noLogits = noLogits;
    }

    /** Feature {@code feature} of the SAE {@code stats} were gathered for. */
    public static FeatureView of(FeatureStats stats, int feature) {
        stats.check(feature);
        LogitEffects logits = null;
        String noLogits = null;
        if (stats.sae() == null) {
            noLogits = "these are " + stats.units() + ", not an SAE's features with decoder directions.";
        } else {
            try {
                logits = logitEffects(stats.model(), stats.sae(), feature, LOGITS);
            } catch (IllegalArgumentException e) {
                noLogits = e.getMessage();
            }
        }
        return new FeatureView(stats, feature, stats.contexts(feature), logits, noLogits);
    }

    /** The same, naming the model and SAE (they must be the ones {@code stats} were gathered with). */
    public static FeatureView of(FeatureStats stats, HookedTransformer model, Sae sae, int feature) {
        if (model != stats.model() || sae != stats.sae()) {
            throw new IllegalArgumentException("These feature statistics were gathered for " + stats.units() + " on "
                    + stats.model().config().modelName() + ", not " + sae + " on " + model.config().modelName()
                    + "; run maxActivating(model, sae, corpus, k) for this pair");
        }
        return of(stats, feature);
    }

    /**
     * The {@code n} largest and smallest entries of {@code W_dec[feature] @ W_U}: the tokens the feature's decoder
     * direction promotes and suppresses directly. Refused where the SAE writes activations that are not d_model wide.
     */
    public static LogitEffects logitEffects(HookedTransformer model, Sae sae, int feature, int n) {
        int dModel = model.config().dModel();
        if (sae.dOut() != dModel) {
            throw new IllegalArgumentException("The SAE writes " + sae.hookNameOut() + ", d_out " + sae.dOut()
                    + " wide, not a d_model (" + dModel + ") direction of the residual stream: its decoder rows have no"
                    + " direct effect through W_U. (An SAE on hook_z would need W_O first; on MLP neurons, W_out.)");
        }
        if (feature < 0 || feature >= sae.dSae()) {
            throw new IndexOutOfBoundsException("Feature " + feature + " is not in this SAE (d_sae " + sae.dSae() + ")");
        }
        NDArray row = sae.W_dec().get(feature).toType(model.W_U().getDataType(), false);
        double[] effect = row.expandDims(0).matMul(model.W_U()).toType(DataType.FLOAT64, false).toDoubleArray();
        Integer[] order = new Integer[effect.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(effect[b], effect[a]));
        int m = Math.min(n, effect.length);
        List<TokenEffect> promoted = new ArrayList<>();
        List<TokenEffect> suppressed = new ArrayList<>();
        for (int i = 0; i < m; i++) {
            promoted.add(effect(model, order[i], effect));
            suppressed.add(effect(model, order[effect.length - 1 - i], effect));
        }
        return new LogitEffects(promoted, suppressed);
    }

    private static TokenEffect effect(HookedTransformer model, int token, double[] effect) {
        return new TokenEffect(token, tokenText(model.tokenizer().orElse(null), token), effect[token]);
    }

    /** A token as text; its id where the model has no tokenizer. */
    static String tokenText(Tokenizer tokenizer, long token) {
        return tokenizer == null ? "#" + token : tokenizer.tokenString((int) token);
    }

    public int feature() { return feature; }

    public FeatureStats stats() { return stats; }

    /** The top contexts, highest activation first. */
    public List<Context> contexts() { return contexts; }

    /** Promoted and suppressed tokens; null where the SAE writes no d_model direction (see the class comment). */
    public LogitEffects logits() { return logits; }

    /** The tokens it promotes most, largest first (empty where there is no logit effect). */
    public List<TokenEffect> promoted() { return logits == null ? List.of() : logits.promoted(); }

    /** The tokens it suppresses most, most negative first. */
    public List<TokenEffect> suppressed() { return logits == null ? List.of() : logits.suppressed(); }

    /** The whole view as one figure (contexts, histogram, logit effects, density). */
    public Panels figure() {
        Panels p = Plot.panels(title(stats, feature) + " of " + stats.hookName()
                + (stats.sae() != null ? " (d_sae " + stats.dSae() + ")" : ""))
                .note(densityLine(stats, feature));
        if (contexts.isEmpty()) {
            return p.note("It never fired on the corpus: no contexts, no histogram.");
        }
        p.row(contextTokens(contexts.size()).title("Top " + contexts.size() + " activations (the top token outlined)"));
        Chart histogram = histogram();
        if (logits == null) {
            return p.row(histogram).note("No logit effects: " + noLogits);
        }
        p.row(histogram, logitChart());
        if (!stats.sae().hookNameOut().contains("resid")) { // logits are shown for SAEs only
            p.note("It writes " + stats.sae().hookNameOut() + ", added to the residual stream as it is: the logit effects are"
                    + " its direct path through W_U.");
        }
        return p;
    }

    private Tokens contextTokens(int n) {
        Tokenizer tokenizer = stats.model().tokenizer().orElse(null);
        List<Tokens.Row> rows = new ArrayList<>();
        for (Context c : contexts.subList(0, n)) {
            List<String> text = new ArrayList<>();
            for (long id : c.tokens()) {
                text.add(tokenText(tokenizer, id));
            }
            rows.add(new Tokens.Row(String.format(Locale.ROOT, "%.3g", c.example().activation()), text, c.activations(), c.top()));
        }
        return Plot.coloredTokens(rows);
    }

    private Chart histogram() {
        FeatureStats.Histogram h = stats.histogram(feature);
        List<String> labels = new ArrayList<>();
        double[] counts = new double[h.counts().length];
        for (int b = 0; b < counts.length; b++) {
            labels.add(String.format(Locale.ROOT, "%.3g", (b + 0.5) * h.binWidth()));
            counts[b] = h.counts()[b];
        }
        return Plot.bar(labels, counts).title(String.format(Locale.ROOT, "Activations > 0 (%,d tokens)", h.total()))
                .axes("activation (bin centre)", "tokens");
    }

    private Chart logitChart() {
        List<String> labels = new ArrayList<>();
        List<Double> values = new ArrayList<>();
        logits.promoted().forEach(t -> {
            labels.add(t.text());
            values.add(t.value());
        });
        for (int i = logits.suppressed().size() - 1; i >= 0; i--) {
            labels.add(logits.suppressed().get(i).text());
            values.add(logits.suppressed().get(i).value());
        }
        return Plot.bar(labels, values.stream().mapToDouble(Double::doubleValue).toArray())
                .title("Promoted and suppressed tokens: W_dec[" + feature + "] @ W_U").axes("token", "logit effect");
    }

    private static String densityLine(FeatureStats stats, int feature) {
        double d = stats.density(feature);
        return String.format(Locale.ROOT, "density %.3g%% (%,d of %,d tokens%s), max activation %.4g", 100 * d,
                stats.firings(feature), stats.tokens(), d > 0 ? String.format(Locale.ROOT, ", log10 %.2f", Math.log10(d)) : "",
                stats.max(feature));
    }

    /** Several features, compactly: for each its density, top contexts and most promoted tokens. */
    static Panels dashboard(FeatureStats stats, int... features) {
        Panels p = Plot.panels(stats.units().toString());
        for (int f : features) {
            FeatureView v = of(stats, f);
            p.heading(title(stats, f) + ": " + densityLine(stats, f));
            if (!v.contexts.isEmpty()) {
                p.row(v.contextTokens(Math.min(DASHBOARD_CONTEXTS, v.contexts.size())));
            }
            if (v.logits != null) {
                p.note("promotes " + texts(v.promoted()) + "; suppresses " + texts(v.suppressed()));
            }
        }
        return p;
    }

    /** "Feature 7", "Neuron 42": the unit's name, capitalised for a heading. */
    private static String title(FeatureStats stats, int unit) {
        String name = stats.units().name(unit);
        return Character.toUpperCase(name.charAt(0)) + name.substring(1);
    }

    private static String texts(List<TokenEffect> effects) {
        return String.join(" ", effects.stream().limit(5).map(t -> "'" + t.text() + "'").toList());
    }

    @Override
    public MimeBundle mimeBundle() {
        return figure().mimeBundle();
    }

    @Override
    public String toString() {
        return "FeatureView(" + stats.units().name(feature) + " of " + stats.hookName() + ", " + densityLine(stats, feature) + ")";
    }
}
