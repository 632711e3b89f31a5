package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.TableView;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookSession;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.Ablations;
import dev.loupe.patching.Metrics;
import dev.loupe.patching.PatchingResult;
import dev.loupe.patching.PathPatching.Head;
import dev.loupe.patching.PathPatching;
import dev.loupe.tasks.ioi.IoiPrompt.Word;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * The measurements by which Wang et al. (2022) sorted GPT-2 small's heads into the IOI circuit, for any model: attention
 * between IOI positions, each head's direct logit attribution, copy scores, path patching from each head to the logits
 * and to chosen heads' queries, keys or values (the ABC distribution as the source), and the rules that turn these into
 * head classes. Every per-head result is a [layer, head] {@link PatchingResult}, shown as a labelled heatmap.
 *
 * <p>The rules ({@link #nameMovers}, ...) pick the heads whose effect is at least a given fraction of the strongest
 * effect of its sign in the same measurement (among the heads with the attention the class is defined by, where it has
 * one), and at least {@link #MIN_EFFECT}. A fraction, not a fixed cut-off, so that one rule serves GPT-2 small and a
 * 4-layer model alike. Effects are relative changes of the clean logit difference throughout.
 */
public final class IoiCircuit {

    /** Effects smaller than this (1% of the clean logit difference) count as noise, whatever the fraction. */
    public static final double MIN_EFFECT = 0.01;

    private IoiCircuit() {}

    /** TransformerLens's {@code ioi_eval}: the mean logit difference and the share of prompts where it is positive. */
    public record Eval(double logitDiff, double accuracy) {}

    /** Runs {@code model} on {@code data} and scores it as {@link Eval}. */
    public static Eval ioiEval(HookedTransformer model, IoiDataset data) {
        return ioiEval(data, model.forward(data.tokens()));
    }

    /** Scores logits already computed on {@code data} as {@link Eval}. */
    public static Eval ioiEval(IoiDataset data, NDArray logits) {
        double[] diffs = data.logitDiffs(logits).toType(DataType.FLOAT64, false).toDoubleArray();
        return new Eval(java.util.Arrays.stream(diffs).average().orElseThrow(),
                java.util.Arrays.stream(diffs).filter(d -> d > 0).count() / (double) diffs.length);
    }

    /** The mean logit difference of a run's logits on {@code data}. */
    public static double logitDiff(IoiDataset data, NDArray logits) {
        return data.logitDiffs(logits).mean().toType(DataType.FLOAT64, false).getDouble();
    }

    /**
     * Each head's attention from {@code from} to {@code to}, averaged over the prompts: [layer, head]. Needs the
     * cache's {@code hook_pattern}s.
     */
    public static PatchingResult attention(ActivationCache cache, IoiDataset data, Word from, Word to) {
        ModelConfig cfg = cache.model().config();
        NDList layers = new NDList();
        for (int l = 0; l < cfg.nLayers(); l++) {
            NDArray fromRow = data.at(cache.get("pattern", l), 2, from);   // [n, head, key]
            layers.add(data.at(fromRow, 2, to).mean(new int[] {0}));      // [head]
        }
        return byHead("Attention " + from + " → " + to, NDArrays.stack(layers), cfg);
    }

    /**
     * Each head's direct effect on logit(IO) − logit(S) at the last token: its output there, through the final layer
     * norm's cached scale (and weight, if not folded), onto W_U[IO] − W_U[S], averaged over the prompts. [layer, head]
     */
    public static PatchingResult directLogitAttribution(ActivationCache cache, IoiDataset data) {
        HookedTransformer model = cache.model();
        ModelConfig cfg = model.config();
        NDArray direction = unembedColumns(model, data.ioTokens()).sub(unembedColumns(model, data.sTokens())); // [n, d_model]
        NDArray scale = data.at(cache.get("ln_final.hook_scale"), 1, Word.END);                             // [n, 1]
        NDList layers = new NDList();
        for (int l = 0; l < cfg.nLayers(); l++) {
            NDArray z = data.at(cache.get("z", l), 1, Word.END);                        // [n, head, d_head]
            NDArray out = z.expandDims(2).matMul(model.W_O(l)).squeeze(2);              // [n, head, d_model]
            out = finalNorm(model, out.sub(out.mean(new int[] {-1}, true)).div(scale.expandDims(2)));
            layers.add(out.mul(direction.expandDims(1)).sum(new int[] {-1}).mean(new int[] {0})); // [head]
        }
        return byHead("Direct logit attribution (IO − S)", NDArrays.stack(layers), cfg);
    }

    /**
     * The direct logit attribution of each part of the residual stream at the last token: the embeddings, then each
     * layer's attention and MLP output, as {@link #directLogitAttribution} does per head. Together with the unembedding's
     * bias they add up to the logit difference. [component]
     */
    public static PatchingResult componentAttribution(ActivationCache cache, IoiDataset data) {
        HookedTransformer model = cache.model();
        ModelConfig cfg = model.config();
        List<String> labels = new ArrayList<>(List.of("embed"));
        if (cfg.positionalEmbedding() == ModelConfig.PositionalEmbedding.STANDARD) {
            labels.add("pos_embed");
        }
        for (int l = 0; l < cfg.nLayers(); l++) {
            labels.add(l + "_attn_out");
            if (!cfg.attnOnly()) {
                labels.add(l + "_mlp_out");
            }
        }
        NDArray direction = unembedColumns(model, data.ioTokens()).sub(unembedColumns(model, data.sTokens())); // [n, d_model]
        NDArray scale = data.at(cache.get("ln_final.hook_scale"), 1, Word.END);                             // [n, 1]
        NDList parts = new NDList();
        for (String label : labels) {
            String hook = label.startsWith("embed") || label.startsWith("pos") ? "hook_" + label
                    : "blocks." + label.substring(0, label.indexOf('_')) + ".hook" + label.substring(label.indexOf('_'));
            NDArray out = data.at(cache.get(hook), 1, Word.END);                                             // [n, d_model]
            out = finalNorm(model, out.sub(out.mean(new int[] {-1}, true)).div(scale));
            parts.add(out.mul(direction).sum(new int[] {-1}).mean());
        }
        return new PatchingResult("Direct logit attribution (IO − S) by component", NDArrays.stack(parts), List.of("component"),
                List.of(labels));
    }

    /**
     * The paper's copy score: the residual stream after block 0 at the IO and S1 positions, through head (l, h)'s layer
     * norm and OV circuit (negated for {@code negative}), the final layer norm and the unembedding; the share of those
     * names that come out among the {@code topK} tokens. Name movers score above 95% in GPT-2 small, an average head
     * below 20%. [layer, head]
     */
    public static PatchingResult copyScores(ActivationCache cache, IoiDataset data, boolean negative, int topK) {
        HookedTransformer model = cache.model();
        ModelConfig cfg = model.config();
        NDArray resid = cache.get("resid_post", 0);
        NDArray x = data.at(resid, 1, Word.IO).concat(data.at(resid, 1, Word.S1), 0);     // [2n, d_model]
        int[] names = concat(data.ioTokens(), data.sTokens());
        NDArray nameIds = Tensors.ofLongs(java.util.Arrays.stream(names).asLongStream().toArray(), new Shape(1, names.length, 1));
        NDList layers = new NDList();
        for (int l = 0; l < cfg.nLayers(); l++) {
            try (NDScope scope = new NDScope()) { // a layer's logits over the vocabulary are large: free them before the next
                NDArray normed = layerNorm(model, x, "blocks." + l + ".ln1");
                NDArray v = normed.matMul(model.W_V(l)).add(model.b_V(l).expandDims(1));      // [head, 2n, d_head]
                NDArray out = v.matMul(model.W_O(l));                                          // [head, 2n, d_model]
                if (negative) {
                    out = out.neg();
                }
                NDArray logits = finalNorm(model, out.sub(out.mean(new int[] {-1}, true))).matMul(model.W_U()); // [head, 2n, vocab]
                NDArray own = logits.gather(nameIds.broadcast(new Shape(cfg.nHeads(), names.length, 1)), 2);     // [head, 2n, 1]
                NDArray above = logits.gt(own).toType(DataType.INT32, false).sum(new int[] {-1});              // [head, 2n]
                NDArray score = above.lt(topK).toType(DataType.FLOAT64, false).mean(new int[] {1});
                NDScope.unregister(score);
                layers.add(score);
            }
        }
        return byHead((negative ? "Negative copy" : "Copy") + " score (top " + topK + ")", NDArrays.stack(layers), cfg);
    }

    /**
     * The metric path patching reports: (logit difference − clean) / |clean|, 0 where a patch changes nothing and −1
     * where it removes the whole logit difference.
     */
    public static Function<NDArray, NDArray> relativeChange(IoiDataset data, double clean) {
        Function<NDArray, NDArray> diff = data.logitDiff();
        return Metrics.readingAs(diff, logits -> {
            NDArray d = diff.apply(logits);
            return d.sub(Tensors.scalar(clean, d.getDataType())).div(Tensors.scalar(Math.abs(clean), d.getDataType()));
        });
    }

    /**
     * Path patching from each head straight to the logits: the head's output from the corrupted (ABC) run, every other
     * head frozen at its clean output, MLPs recomputed. Relative change of the logit difference, [layer, head].
     */
    public static PatchingResult directEffects(HookedTransformer model, IoiDataset clean, ActivationCache cleanCache,
                                               ActivationCache corruptedCache) {
        Function<NDArray, NDArray> metric = relativeChange(clean, logitDiff(clean, cleanCache.logits()));
        PatchingResult r = PathPatching.toLogits(model, clean.tokens(), cleanCache, corruptedCache, metric);
        return new PatchingResult("Path patching to the logits: relative change of the logit difference", r.values(), r.axes(), r.labels());
    }

    /**
     * Path patching from each earlier head to the {@code input} ("q", "k" or "v") of {@code receivers}; as above. With
     * no receivers (a class an earlier step found empty), or receivers only in layer 0 (nothing before them to send),
     * every entry is NaN, so that a chain of steps runs through.
     */
    public static PatchingResult effectsThrough(HookedTransformer model, IoiDataset clean, ActivationCache cleanCache,
                                                ActivationCache corruptedCache, List<Head> receivers, String input) {
        ModelConfig cfg = model.config();
        if (receivers.stream().noneMatch(h -> h.layer() > 0)) {
            double[] nan = new double[cfg.nLayers() * cfg.nHeads()];
            java.util.Arrays.fill(nan, Double.NaN);
            return byHead("Path patching to no receivers (" + input + ")", Tensors.ofDoubles(nan, new Shape(cfg.nLayers(), cfg.nHeads())), cfg);
        }
        Function<NDArray, NDArray> metric = relativeChange(clean, logitDiff(clean, cleanCache.logits()));
        PatchingResult r = PathPatching.toReceivers(model, clean.tokens(), cleanCache, corruptedCache, receivers, input, metric);
        return new PatchingResult("Path patching to " + receivers + " " + input + ": relative change of the logit difference",
                r.values(), r.axes(), r.labels());
    }

    /**
     * The heads whose effect has the given sign, at least {@code fraction} of the largest magnitude of that sign and at
     * least {@link #MIN_EFFECT}, strongest first. NaN entries (path patching leaves the receivers' layers and above
     * NaN) are skipped.
     */
    public static List<Head> strongest(PatchingResult values, int sign, double fraction) {
        return strongest(values, sign, fraction, null);
    }

    /** As {@link #strongest(PatchingResult, int, double)}, among {@code among} only (all heads if null). */
    public static List<Head> strongest(PatchingResult values, int sign, double fraction, List<Head> among) {
        return strongest(values, sign, fraction, MIN_EFFECT, among);
    }

    /** As {@link #strongest(PatchingResult, int, double, List)}, with {@code minEffect} in place of {@link #MIN_EFFECT}. */
    public static List<Head> strongest(PatchingResult values, int sign, double fraction, double minEffect, List<Head> among) {
        if (sign != 1 && sign != -1) {
            throw new IllegalArgumentException("sign is 1 (largest positive values) or -1 (most negative), got " + sign);
        }
        double[][] v = grid(values);
        double best = 0;
        for (int l = 0; l < v.length; l++) {
            for (int h = 0; h < v[l].length; h++) {
                if (!Double.isNaN(v[l][h]) && (among == null || among.contains(new Head(l, h)))) {
                    best = Math.max(best, sign * v[l][h]);
                }
            }
        }
        List<Head> picked = new ArrayList<>();
        for (int l = 0; l < v.length; l++) {
            for (int h = 0; h < v[l].length; h++) {
                if (best > 0 && sign * v[l][h] >= Math.max(fraction * best, minEffect)
                        && (among == null || among.contains(new Head(l, h)))) {
                    picked.add(new Head(l, h));
                }
            }
        }
        picked.sort(Comparator.comparingDouble(head -> -sign * v[head.layer()][head.head()]));
        return picked;
    }

    /** Heads among {@code heads} whose value in {@code a} is larger than in {@code b}. */
    public static List<Head> where(List<Head> heads, PatchingResult a, PatchingResult b) {
        double[][] x = grid(a);
        double[][] y = grid(b);
        return heads.stream().filter(h -> x[h.layer()][h.head()] > y[h.layer()][h.head()]).toList();
    }

    /**
     * The floors every class rule applies: a head joins a class only if its effect in the class's measurement is at least
     * {@code fraction} of the step's strongest effect of that sign (among the heads with the class's attention) and at
     * least {@code minEffect} (relative change of the logit difference), and if the attention the class is named for is at
     * least {@code minAttention}.
     */
    public record Rules(double fraction, double minEffect, double minAttention) {
        /** A quarter of the strongest effect, 2% of the logit difference, attention 0.1. */
        public static final Rules DEFAULT = new Rules(0.25, 0.02, 0.1);

        public Rules {
            if (!(fraction >= 0 && fraction <= 1) || !(minEffect >= 0) || !(minAttention >= 0 && minAttention <= 1)) {
                throw new IllegalArgumentException("Rules take a fraction in [0, 1], a minimum effect ≥ 0 and a minimum attention"
                        + " in [0, 1]; got " + fraction + ", " + minEffect + ", " + minAttention);
            }
        }

        /** These rules with another fraction. */
        public Rules withFraction(double f) {
            return new Rules(f, minEffect, minAttention);
        }
    }

    /**
     * The attention the class rules read, each averaged over the prompts, [layer, head]: from the last token to the IO,
     * S1 and S2 (name movers, S-inhibition); from S2 to S1 and to the token after S1 (duplicate-token and induction
     * heads); from S1+1 to S1 (previous-token heads); from S2 to the IO and to itself (to say what an early head that
     * fits no class does).
     */
    public record Attention(PatchingResult endToIo, PatchingResult endToS1, PatchingResult endToS2, PatchingResult s2ToS1,
                            PatchingResult s2ToS1Plus1, PatchingResult s1Plus1ToS1, PatchingResult s2ToIo, PatchingResult s2ToS2) {

        /** Without the two attentions only descriptions read. */
        public Attention(PatchingResult endToIo, PatchingResult endToS1, PatchingResult endToS2, PatchingResult s2ToS1,
                         PatchingResult s2ToS1Plus1, PatchingResult s1Plus1ToS1) {
            this(endToIo, endToS1, endToS2, s2ToS1, s2ToS1Plus1, s1Plus1ToS1, null, null);
        }

        /** Measured on a cache with the {@code hook_pattern}s. */
        public static Attention of(ActivationCache cache, IoiDataset data) {
            return new Attention(attention(cache, data, Word.END, Word.IO), attention(cache, data, Word.END, Word.S1),
                    attention(cache, data, Word.END, Word.S2), attention(cache, data, Word.S2, Word.S1),
                    attention(cache, data, Word.S2, Word.S1_PLUS_1), attention(cache, data, Word.S1_PLUS_1, Word.S1),
                    attention(cache, data, Word.S2, Word.IO), attention(cache, data, Word.S2, Word.S2));
        }

        double at(PatchingResult r, Head h) {
            return grid(r)[h.layer()][h.head()];
        }
    }

    /** Heads whose attention from the last token to the IO is at least the floor and more than to S1 and S2 together. */
    public static List<Head> attendingToIo(Attention a, Rules rules) {
        return heads(a.endToIo(), h -> a.at(a.endToIo(), h) >= rules.minAttention()
                && a.at(a.endToIo(), h) > a.at(a.endToS1(), h) + a.at(a.endToS2(), h));
    }

    /**
     * Name movers: among the heads {@link #attendingToIo attending to the IO}, those whose direct path to the logits raises
     * the logit difference (patching it from the ABC run lowers it), by {@code rules}.
     */
    public static List<Head> nameMovers(PatchingResult directEffects, Attention a, Rules rules) {
        return strongest(directEffects, -1, rules.fraction(), rules.minEffect(), attendingToIo(a, rules));
    }

    /** Negative name movers: heads attending to the IO, as above, whose direct path lowers the logit difference. */
    public static List<Head> negativeNameMovers(PatchingResult directEffects, Attention a, Rules rules) {
        return strongest(directEffects, 1, rules.fraction(), rules.minEffect(), attendingToIo(a, rules));
    }

    /** S-inhibition heads: attending from the last token to S2 (at least the floor), whose path to the name movers' queries matters. */
    public static List<Head> sInhibitionHeads(PatchingResult toNameMoverQueries, Attention a, Rules rules) {
        return strongest(toNameMoverQueries, -1, rules.fraction(), rules.minEffect(),
                heads(a.endToS2(), h -> a.at(a.endToS2(), h) >= rules.minAttention()));
    }

    /**
     * Induction heads: from S2 they attend to the token after S1 (at least the floor) more than to S1 itself, and their
     * path to the S-inhibition heads' values matters. Never a layer-0 head: induction composes with an earlier head.
     */
    public static List<Head> inductionHeads(PatchingResult toValues, Attention a, Rules rules) {
        return strongest(toValues, -1, rules.fraction(), rules.minEffect(), heads(a.s2ToS1Plus1(), h -> h.layer() > 0
                && a.at(a.s2ToS1Plus1(), h) >= rules.minAttention() && a.at(a.s2ToS1Plus1(), h) > a.at(a.s2ToS1(), h)));
    }

    /** Duplicate-token heads: from S2 they attend to S1 (at least the floor) more than to the token after it; as above. */
    public static List<Head> duplicateTokenHeads(PatchingResult toValues, Attention a, Rules rules) {
        return strongest(toValues, -1, rules.fraction(), rules.minEffect(), heads(a.s2ToS1(), h ->
                a.at(a.s2ToS1(), h) >= rules.minAttention() && a.at(a.s2ToS1(), h) > a.at(a.s2ToS1Plus1(), h)));
    }

    /** Previous-token heads: from S1+1 they attend to S1 (at least the floor), and their path to the induction heads' keys matters. */
    public static List<Head> previousTokenHeads(PatchingResult toInductionKeys, Attention a, Rules rules) {
        return strongest(toInductionKeys, -1, rules.fraction(), rules.minEffect(),
                heads(a.s1Plus1ToS1(), h -> a.at(a.s1Plus1ToS1(), h) >= rules.minAttention()));
    }

    /** Backup name movers: heads attending to the IO whose direct attribution rises when the name movers are mean-ablated. */
    public static List<Head> backupNameMovers(PatchingResult backupChange, Attention a, Rules rules, List<Head> nameMovers) {
        return strongest(backupChange, 1, rules.fraction(), rules.minEffect(), attendingToIo(a, rules)).stream()
                .filter(h -> !nameMovers.contains(h)).toList();
    }

    /**
     * What a head with a direct effect does, in words, when it fits no class of the paper: where it attends from the last
     * token (the name among IO, S1 and S2 it attends to most, if at least the floor) and which way its direct path pushes
     * the logit difference. A head that attends to S and raises the logit difference writes against S: suppression.
     */
    public static String describe(Head h, double directEffect, Attention a, Rules rules) {
        double io = a.at(a.endToIo(), h);
        double s1 = a.at(a.endToS1(), h);
        double s2 = a.at(a.endToS2(), h);
        boolean helps = directEffect < 0;   // patching it away lowers the logit difference: it favours the IO over S
        String effect = helps ? "raises the logit difference" : "lowers the logit difference";
        Map<String, Double> to = new LinkedHashMap<>();
        to.put("the IO", io);
        to.put("S1", s1);
        to.put("S2", s2);
        List<Map.Entry<String, Double>> order = new ArrayList<>(to.entrySet());
        order.sort(Map.Entry.<String, Double>comparingByValue().reversed());
        double most = order.get(0).getValue();
        if (most < rules.minAttention()) {
            return "attends to no name, " + effect;
        }
        if (order.get(1).getValue() >= 0.9 * most) {   // within 10%: it does not tell the two names apart
            return "attends to " + order.get(0).getKey() + " and " + order.get(1).getKey() + " alike, " + effect;
        }
        if (order.get(0).getKey().equals("the IO")) {
            return helps ? "attends to the IO, writes for it" : "attends to the IO, writes against it";
        }
        return helps ? "attends to " + order.get(0).getKey() + ", writes against S: suppression"
                : "attends to " + order.get(0).getKey() + ", copies S";
    }

    /**
     * What an early head does when its path into the values of the heads that read S2 matters but it fits neither the
     * induction nor the duplicate-token rule: where it attends from S2 (IO, S1, S1+1 or S2 itself, the most, if at
     * least the floor).
     */
    public static String describeEarly(Head h, Attention a, Rules rules) {
        Map<String, Double> from = new LinkedHashMap<>();
        from.put("S1", a.at(a.s2ToS1(), h));
        from.put("S1+1", a.at(a.s2ToS1Plus1(), h));
        if (a.s2ToIo() != null) {
            from.put("the IO", a.at(a.s2ToIo(), h));
            from.put("itself", a.at(a.s2ToS2(), h));
        }
        var most = from.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow();
        return "feeds the S2-reading heads' values; from S2 attends to "
                + (most.getValue() >= rules.minAttention() ? most.getKey() : "no IOI position");
    }

    /**
     * The heads whose path to the logits is at least {@code rules}' fraction of the largest either way and the floor,
     * other than the name movers and negative name movers, each with what it does ({@link #describe}).
     */
    public static Map<Head, String> unclassified(PatchingResult directEffects, Attention a, Rules rules, List<Head> nameMovers,
                                                 List<Head> negativeNameMovers) {
        Map<Head, String> out = new LinkedHashMap<>();
        for (Head h : strongestEitherWay(directEffects, rules)) {
            if (!nameMovers.contains(h) && !negativeNameMovers.contains(h)) {
                out.put(h, describe(h, a.at(directEffects, h), a, rules));
            }
        }
        return out;
    }

    /**
     * The heads that read S2 from the last token: the S-inhibition heads, and the heads among {@code others} that attend
     * to S2 at least the floor. Path patching into their values finds the heads that write at S2.
     */
    public static List<Head> readingS2(List<Head> sInhibition, java.util.Collection<Head> others, Attention a, Rules rules) {
        List<Head> out = new ArrayList<>(sInhibition);
        others.stream().filter(h -> a.at(a.endToS2(), h) >= rules.minAttention() && !out.contains(h)).forEach(out::add);
        return out;
    }

    /** The heads of a [layer, head] result for which {@code test} holds. */
    private static List<Head> heads(PatchingResult r, java.util.function.Predicate<Head> test) {
        Shape s = r.values().getShape();
        List<Head> out = new ArrayList<>();
        for (int l = 0; l < s.get(0); l++) {
            for (int h = 0; h < s.get(1); h++) {
                if (test.test(new Head(l, h))) {
                    out.add(new Head(l, h));
                }
            }
        }
        return out;
    }

    /** The old entry point: {@link #nameMovers(PatchingResult, Attention, Rules)} with the default floors and this fraction. */
    public static List<Head> nameMovers(PatchingResult directEffects, ActivationCache cache, IoiDataset data, double fraction) {
        return nameMovers(directEffects, Attention.of(cache, data), Rules.DEFAULT.withFraction(fraction));
    }

    /** As {@link #nameMovers(PatchingResult, ActivationCache, IoiDataset, double)}, for negative name movers. */
    public static List<Head> negativeNameMovers(PatchingResult directEffects, ActivationCache cache, IoiDataset data,
                                                double fraction) {
        return negativeNameMovers(directEffects, Attention.of(cache, data), Rules.DEFAULT.withFraction(fraction));
    }

    /** The heads attending to the IO ({@link #attendingToIo(Attention, Rules)}) with the default floor. */
    public static List<Head> attendingToIo(ActivationCache cache, IoiDataset data) {
        return attendingToIo(Attention.of(cache, data), Rules.DEFAULT);
    }

    /**
     * The change in each head's direct logit attribution when {@code ablated} heads are replaced by their mean over
     * the {@code reference} run (the paper's mean ablation over the ABC distribution), relative to the clean logit
     * difference: backup name movers are the heads whose attribution rises. [layer, head]
     */
    public static PatchingResult dlaChangeWhenAblated(HookedTransformer model, IoiDataset data, ActivationCache cache,
                                                      List<Head> ablated, ActivationCache reference) {
        Hook[] hooks = ablated.stream().map(h -> Ablations.meanHead(h.layer(), h.head(), reference)).toArray(Hook[]::new);
        PatchingResult before = directLogitAttribution(cache, data);
        PatchingResult after;
        try (HookSession session = model.hooks(hooks);
             ActivationCache ablatedCache = model.runWithCache(data.tokens(),
                     n -> n.endsWith("hook_z") || n.equals("ln_final.hook_scale"))) {
            after = directLogitAttribution(ablatedCache, data);
        }
        double clean = Math.abs(logitDiff(data, cache.logits()));
        return byHead("Change in direct logit attribution with " + ablated + " mean-ablated (share of the logit difference)",
                after.values().sub(before.values()).div(Tensors.scalar(clean, before.values().getDataType())), model.config());
    }

    /** The class each head got and the effect that gave it (its measurement in that class's step). */
    public record Label(String label, double effect) {}

    /**
     * Each step of {@link #search} and the head classes it found, in the paper's order of discovery. A step with no
     * receivers (an empty class, or receivers in layer 0 with nothing before them) is null. Each head has one label: where
     * it met several rules, the one in whose measurement its effect is largest. {@code classes} holds the paper's classes
     * and then, for heads with a direct effect that fit none, what they do ({@link #describe}).
     */
    public record Search(double cleanLogitDiff, double corruptedLogitDiff, PatchingResult directEffects,
                         PatchingResult toNameMoverQueries, PatchingResult toSInhibitionValues, PatchingResult toInductionKeys,
                         PatchingResult backupChange, PatchingResult directLogitAttribution, Attention attention,
                         Map<Head, Label> labels, Map<String, List<Head>> classes) implements Displayable {

        @Override
        public MimeBundle mimeBundle() {
            return TableView.bundle(compareWithPaper(classes)).with(MimeBundle.TEXT, toString());
        }

        /** One row per labelled head: its label, effect, path patching to the logits, direct attribution and attention. */
        public Table headTable() {
            List<Head> hs = new ArrayList<>(labels.keySet());
            return Table.create("labelled heads",
                    StringColumn.create("head", hs.stream().map(Head::toString).toList()),
                    StringColumn.create("label", hs.stream().map(h -> labels.get(h).label()).toList()),
                    doubles("effect in that step", hs.stream().map(h -> labels.get(h).effect()).toList()),
                    doubles("path patching to logits", hs.stream().map(h -> attention.at(directEffects, h)).toList()),
                    doubles("direct logit attribution", hs.stream().map(h -> attention.at(directLogitAttribution, h)).toList()),
                    doubles("END→IO", hs.stream().map(h -> attention.at(attention.endToIo(), h)).toList()),
                    doubles("END→S1", hs.stream().map(h -> attention.at(attention.endToS1(), h)).toList()),
                    doubles("END→S2", hs.stream().map(h -> attention.at(attention.endToS2(), h)).toList()),
                    doubles("S2→S1", hs.stream().map(h -> attention.at(attention.s2ToS1(), h)).toList()),
                    doubles("S2→S1+1", hs.stream().map(h -> attention.at(attention.s2ToS1Plus1(), h)).toList()));
        }

        /**
         * The {@code n} heads whose path to the logits changes the logit difference most, either way, with their label
         * (if any), what they do ({@link #describe}) and the measurements behind it.
         */
        public Table ranked(int n, Rules rules) {
            double[][] v = grid(directEffects);
            List<Head> hs = heads(directEffects, h -> true);
            hs.sort(Comparator.comparingDouble(h -> -Math.abs(v[h.layer()][h.head()])));
            hs = hs.subList(0, Math.min(n, hs.size()));
            return Table.create("heads by the size of their path to the logits",
                    StringColumn.create("head", hs.stream().map(Head::toString).toList()),
                    doubles("path patching to logits", hs.stream().map(h -> v[h.layer()][h.head()]).toList()),
                    doubles("direct logit attribution", hs.stream().map(h -> attention.at(directLogitAttribution, h)).toList()),
                    doubles("END→IO", hs.stream().map(h -> attention.at(attention.endToIo(), h)).toList()),
                    doubles("END→S1", hs.stream().map(h -> attention.at(attention.endToS1(), h)).toList()),
                    doubles("END→S2", hs.stream().map(h -> attention.at(attention.endToS2(), h)).toList()),
                    StringColumn.create("what it does", hs.stream().map(h -> describe(h, v[h.layer()][h.head()], attention, rules)).toList()),
                    StringColumn.create("label", hs.stream().map(h -> labels.containsKey(h) ? labels.get(h).label() : "").toList()));
        }

        /** The head whose path to the logits changes the logit difference most, either way. */
        public Head dominantHead() {
            double[][] v = grid(directEffects);
            Head best = new Head(0, 0);
            for (int l = 0; l < v.length; l++) {
                for (int h = 0; h < v[l].length; h++) {
                    if (Math.abs(v[l][h]) > Math.abs(v[best.layer()][best.head()])) {
                        best = new Head(l, h);
                    }
                }
            }
            return best;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "IOI circuit search: logit difference %.3f clean, %.3f corrupted; %s",
                    cleanLogitDiff, corruptedLogitDiff, classes.entrySet().stream()
                            .map(e -> e.getKey() + " " + names(e.getValue())).collect(Collectors.joining("; ")));
        }
    }

    private static tech.tablesaw.api.DoubleColumn doubles(String name, List<Double> values) {
        return tech.tablesaw.api.DoubleColumn.create(name, values.stream().mapToDouble(Double::doubleValue).map(x -> Math.round(x * 1e4) / 1e4).toArray());
    }

    /** The paper's classes, in the order {@link #search} finds them. */
    public static final List<String> CLASSES = List.of("name mover", "negative name mover", "S-inhibition", "induction",
            "duplicate token", "previous token", "backup name mover");

    /** {@link #search(HookedTransformer, IoiDataset, IoiDataset, Rules)} with the default floors and this fraction. */
    public static Search search(HookedTransformer model, IoiDataset clean, IoiDataset corrupted, double fraction) {
        return search(model, clean, corrupted, Rules.DEFAULT.withFraction(fraction));
    }

    /**
     * The paper's search, step by step, with {@code corrupted} (the ABC distribution) as the source of every patch:
     * <ol>
     * <li>path patching to the logits gives the name movers and negative name movers; heads with a direct effect that
     * attend elsewhere are described by what they do ({@link #describe});</li>
     * <li>path patching to the name movers' queries gives the S-inhibition heads;</li>
     * <li>path patching to the values of the heads that read S2 from the last token (the S-inhibition heads, and heads of
     * step 1 that attend to S2) gives the induction and duplicate-token heads, told apart by where S2 attends;</li>
     * <li>path patching to the induction heads' keys gives the previous-token heads (skipped without induction heads);</li>
     * <li>mean-ablating the name movers shows the backup name movers: heads attending to the IO whose direct attribution
     * rises.</li>
     * </ol>
     * Every rule applies {@code rules}' floors; then each head keeps one label ({@link Search}).
     */
    public static Search search(HookedTransformer model, IoiDataset clean, IoiDataset corrupted, Rules rules) {
        try (ActivationCache cleanCache = model.runWithCache(clean.tokens());
             ActivationCache corruptedCache = model.runWithCache(corrupted.tokens())) {
            Attention a = Attention.of(cleanCache, clean);
            Map<String, List<Head>> found = new LinkedHashMap<>();
            Map<String, PatchingResult> measuredBy = new LinkedHashMap<>();
            PatchingResult direct = directEffects(model, clean, cleanCache, corruptedCache);
            List<Head> nameMovers = nameMovers(direct, a, rules);
            found.put("name mover", nameMovers);
            found.put("negative name mover", negativeNameMovers(direct, a, rules));
            measuredBy.put("name mover", direct);
            measuredBy.put("negative name mover", direct);
            PatchingResult toQueries = nameMovers.isEmpty() ? null : effectsThrough(model, clean, cleanCache, corruptedCache, nameMovers, "q");
            List<Head> sInhibition = toQueries == null ? List.of() : sInhibitionHeads(toQueries, a, rules);
            found.put("S-inhibition", sInhibition);
            measuredBy.put("S-inhibition", toQueries);
            // Heads with a direct effect that fit no class: what they do.
            Map<Head, String> described = unclassified(direct, a, rules, found.get("name mover"), found.get("negative name mover"));
            Map<Head, String> describedEarly = new LinkedHashMap<>();
            List<Head> readS2 = readingS2(sInhibition, described.keySet(), a, rules);
            PatchingResult toValues = hasSenders(readS2) ? effectsThrough(model, clean, cleanCache, corruptedCache, readS2, "v") : null;
            List<Head> induction = toValues == null ? List.of() : inductionHeads(toValues, a, rules);
            found.put("induction", induction);
            found.put("duplicate token", toValues == null ? List.of() : duplicateTokenHeads(toValues, a, rules));
            if (toValues != null) {
                for (Head h : strongest(toValues, -1, rules.fraction(), rules.minEffect(), null)) {
                    if (!found.get("induction").contains(h) && !found.get("duplicate token").contains(h)) {
                        describedEarly.put(h, describeEarly(h, a, rules));
                    }
                }
            }
            measuredBy.put("induction", toValues);
            measuredBy.put("duplicate token", toValues);
            PatchingResult toKeys = hasSenders(induction) ? effectsThrough(model, clean, cleanCache, corruptedCache, induction, "k") : null;
            found.put("previous token", toKeys == null ? List.of() : previousTokenHeads(toKeys, a, rules));
            measuredBy.put("previous token", toKeys);
            PatchingResult backup = nameMovers.isEmpty() ? null : dlaChangeWhenAblated(model, clean, cleanCache, nameMovers, corruptedCache);
            found.put("backup name mover", backup == null ? List.of() : backupNameMovers(backup, a, rules, nameMovers));
            measuredBy.put("backup name mover", backup);
            // One label per head: the class in whose measurement its effect is largest (first found on a tie).
            Map<Head, Label> labels = new LinkedHashMap<>();
            for (var e : found.entrySet()) {
                for (Head h : e.getValue()) {
                    offer(labels, h, new Label(e.getKey(), a.at(measuredBy.get(e.getKey()), h)));
                }
            }
            described.forEach((h, what) -> offer(labels, h, new Label(what, a.at(direct, h))));
            describedEarly.forEach((h, what) -> offer(labels, h, new Label(what, a.at(toValues, h))));
            Map<String, List<Head>> classes = new LinkedHashMap<>();
            for (String c : CLASSES) {
                classes.put(c, found.get(c).stream().filter(h -> labels.get(h).label().equals(c)).toList());
            }
            labels.forEach((h, l) -> {
                if (!CLASSES.contains(l.label())) {
                    classes.computeIfAbsent(l.label(), k -> new ArrayList<>()).add(h);
                }
            });
            classes.replaceAll((k, v) -> List.copyOf(v));
            return new Search(logitDiff(clean, cleanCache.logits()), logitDiff(clean, corruptedCache.logits()), direct, toQueries,
                    toValues, toKeys, backup, directLogitAttribution(cleanCache, clean), a,
                    java.util.Collections.unmodifiableMap(labels), java.util.Collections.unmodifiableMap(classes));
        }
    }

    private static void offer(Map<Head, Label> labels, Head h, Label candidate) {
        Label held = labels.get(h);
        if (held == null || Math.abs(candidate.effect()) > Math.abs(held.effect())) {
            labels.put(h, candidate);
        }
    }

    /** Heads whose direct effect either way is at least the fraction of the largest magnitude and the floor. */
    private static List<Head> strongestEitherWay(PatchingResult direct, Rules rules) {
        double[][] v = grid(direct);
        double best = 0;
        for (double[] row : v) {
            for (double x : row) {
                if (!Double.isNaN(x)) {
                    best = Math.max(best, Math.abs(x));
                }
            }
        }
        double floor = Math.max(rules.fraction() * best, rules.minEffect());
        boolean any = best > 0;
        List<Head> out = heads(direct, h -> any && Math.abs(v[h.layer()][h.head()]) >= floor);
        out.sort(Comparator.comparingDouble(h -> -Math.abs(v[h.layer()][h.head()])));
        return out;
    }

    /** Path patching into receivers needs senders: heads in a layer below one of them. */
    public static boolean hasSenders(List<Head> receivers) {
        return receivers.stream().anyMatch(h -> h.layer() > 0);
    }

    /** A label that held in both of two searches, and those that did not. */
    public record Stability(Map<String, List<Head>> classes, Map<Head, String> withheld) implements Displayable {
        @Override
        public MimeBundle mimeBundle() {
            List<String> rows = new ArrayList<>();
            List<String> heads = new ArrayList<>();
            classes.forEach((c, hs) -> { rows.add(c); heads.add(names(hs)); });
            withheld.forEach((h, why) -> { rows.add("withheld: " + why); heads.add(h.toString()); });
            return TableView.bundle(Table.create("labels that hold on both prompt samples", StringColumn.create("label", rows),
                    StringColumn.create("heads", heads))).with(MimeBundle.TEXT, toString());
        }

        @Override
        public String toString() {
            return "stable labels: " + classes.entrySet().stream().filter(e -> !e.getValue().isEmpty())
                    .map(e -> e.getKey() + " " + names(e.getValue())).collect(Collectors.joining("; "))
                    + (withheld.isEmpty() ? "; none withheld" : "; withheld (first sample / second): "
                    + withheld.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", ")));
        }
    }

    /**
     * The labels two searches (on two prompt samples) agree on; a head labelled differently, or in one search only, gets no
     * label and is listed as withheld.
     */
    public static Stability stable(Search first, Search second) {
        Map<String, List<Head>> classes = new LinkedHashMap<>();
        Map<Head, String> withheld = new LinkedHashMap<>();
        java.util.Set<Head> all = new java.util.LinkedHashSet<>(first.labels().keySet());
        all.addAll(second.labels().keySet());
        for (String c : first.classes().keySet()) {
            classes.put(c, new ArrayList<>());
        }
        for (Head h : all) {
            Label a = first.labels().get(h);
            Label b = second.labels().get(h);
            if (a != null && b != null && a.label().equals(b.label())) {
                classes.computeIfAbsent(a.label(), k -> new ArrayList<>()).add(h);
            } else {
                withheld.put(h, (a == null ? "none" : a.label()) + " / " + (b == null ? "none" : b.label()));
            }
        }
        classes.replaceAll((k, v) -> List.copyOf(v));
        return new Stability(java.util.Collections.unmodifiableMap(classes), java.util.Collections.unmodifiableMap(withheld));
    }

    /** The classes found next to the paper's GPT-2 small heads: class, found, paper, and the heads in both. */
    public static Table compareWithPaper(Map<String, List<Head>> found) {
        List<String> classes = new ArrayList<>(found.keySet());
        return Table.create("IOI head classes",
                StringColumn.create("class", classes),
                StringColumn.create("found", classes.stream().map(c -> names(found.get(c))).toList()),
                StringColumn.create("paper (GPT-2 small)", classes.stream().map(c -> names(Gpt2IoiFigures.HEAD_CLASSES.getOrDefault(c, List.of()))).toList()),
                StringColumn.create("in both", classes.stream().map(c -> names(found.get(c).stream()
                        .filter(Gpt2IoiFigures.HEAD_CLASSES.getOrDefault(c, List.of())::contains).toList())).toList()));
    }

    private static String names(List<Head> heads) {
        return heads.stream().map(Head::toString).collect(Collectors.joining(", "));
    }

    /** Layer norm {@code prefix} applied to rows of the residual stream: centre, scale, then w and b if not folded. */
    private static NDArray layerNorm(HookedTransformer model, NDArray x, String prefix) {
        if (model.config().normalization() == ModelConfig.Normalization.NONE) {
            return x;
        }
        NDArray centred = x.sub(x.mean(new int[] {-1}, true));
        NDArray scale = centred.square().mean(new int[] {-1}, true).add(Tensors.scalar(model.config().eps(), x.getDataType())).sqrt();
        NDArray normed = centred.div(scale);
        if (model.config().normalization() == ModelConfig.Normalization.LN) {
            normed = normed.mul(model.parameter(prefix + ".w")).add(model.parameter(prefix + ".b"));
        }
        return normed;
    }

    /** The final layer norm's weight, where it was not folded into W_U; its bias is a constant the comparisons ignore. */
    private static NDArray finalNorm(HookedTransformer model, NDArray centredAndScaled) {
        return model.config().normalization() == ModelConfig.Normalization.LN
                ? centredAndScaled.mul(model.parameter("ln_final.w")) : centredAndScaled;
    }

    private static NDArray unembedColumns(HookedTransformer model, int[] tokens) {
        long[] ids = java.util.Arrays.stream(tokens).asLongStream().toArray();
        return model.W_U().transpose().get(Tensors.ofLongs(ids, new Shape(ids.length)));
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static double[][] grid(PatchingResult r) {
        Shape s = r.values().getShape();
        if (s.dimension() != 2) {
            throw new IllegalArgumentException("Expected a [layer, head] result, got " + r.title() + " of shape " + s);
        }
        double[] flat = r.values().toType(DataType.FLOAT64, false).toDoubleArray();
        double[][] g = new double[(int) s.get(0)][(int) s.get(1)];
        for (int l = 0; l < g.length; l++) {
            System.arraycopy(flat, l * g[l].length, g[l], 0, g[l].length);
        }
        return g;
    }

    private static PatchingResult byHead(String title, NDArray values, ModelConfig cfg) {
        List<String> layers = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers(); l++) {
            layers.add(String.valueOf(l));
        }
        List<String> heads = new ArrayList<>();
        for (int h = 0; h < cfg.nHeads(); h++) {
            heads.add("H" + h);
        }
        return new PatchingResult(title, values, List.of("layer", "head"), List.of(layers, heads));
    }
}
