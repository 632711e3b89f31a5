package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ActivationCache;
import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.TableView;
import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.PathPatching.Head;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Wang et al.'s (2022, section 4) three checks of a circuit C found in a model M, with F(X) the mean logit difference
 * when every head outside X is mean-ablated (replaced, position by position, by its mean over the {@code reference} run,
 * the ABC distribution):
 * <ul>
 * <li><b>faithfulness</b>: F(C) against F(M), the circuit alone against the whole model;</li>
 * <li><b>completeness</b>: for subsets K of C, F(C \ K) against F(M \ K): a complete circuit loses what the model loses
 * when the same heads are knocked out;</li>
 * <li><b>minimality</b>: for each head v of C, F(C \ K) − F(C \ (K ∪ {v})) with K = v's class-mates: a head that changes
 * nothing is not needed.</li>
 * </ul>
 */
public final class CircuitChecks {

    private CircuitChecks() {}

    /** The hooks that mean-ablate {@code heads} over the reference run (one hook per layer that has any of them). */
    public static Hook[] meanAblate(HookedTransformer model, Collection<Head> heads, ActivationCache reference) {
        ModelConfig cfg = model.config();
        List<Hook> hooks = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers(); l++) {
            int layer = l;
            double[] mask = new double[cfg.nHeads()];
            heads.stream().filter(h -> h.layer() == layer).forEach(h -> mask[h.head()] = 1);
            if (java.util.Arrays.stream(mask).sum() == 0) {
                continue;
            }
            String name = ActNames.actName("z", l);
            NDArray mean = reference.get(name).mean(new int[] {0}, true);    // [1, pos, head, d_head]
            NDArray m = Tensors.ofDoubles(mask, new Shape(1, 1, cfg.nHeads(), 1)).toType(mean.getDataType(), false);
            NDArray keep = m.neg().add(1);
            NDArray fill = mean.mul(m);
            hooks.add(Hook.of(name, (z, hook) -> z.mul(keep).add(fill)));
        }
        return hooks.toArray(Hook[]::new);
    }

    /** F(X): the mean logit difference on {@code data} with every head outside {@code kept} mean-ablated. */
    public static double keepOnly(HookedTransformer model, IoiDataset data, ActivationCache reference, Collection<Head> kept) {
        List<Head> out = allHeads(model.config()).stream().filter(h -> !kept.contains(h)).toList();
        return IoiCircuit.logitDiff(data, model.runWithHooks(data.tokens(), meanAblate(model, out, reference)));
    }

    /** The heads of every class, each once, in the order given. */
    public static List<Head> circuit(Map<String, List<Head>> classes) {
        Set<Head> all = new LinkedHashSet<>();
        classes.values().forEach(all::addAll);
        return List.copyOf(all);
    }

    /** F(M) and F(C). */
    public record Faithfulness(double model, double circuit) {
        /** F(C) / F(M). */
        public double ratio() {
            return circuit / model;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "faithfulness: F(M) %.3f, F(C) %.3f, F(C)/F(M) %.3f", model, circuit, ratio());
        }
    }

    /** F(M) (the model with nothing ablated) and F(C). */
    public static Faithfulness faithfulness(HookedTransformer model, IoiDataset data, ActivationCache reference, Collection<Head> circuit) {
        double whole = IoiCircuit.logitDiff(data, model.forward(data.tokens()));
        return new Faithfulness(whole, keepOnly(model, data, reference, circuit));
    }

    /** One knocked-out set K: F(C \ K) and F(M \ K). */
    public record Knockout(String removed, double circuit, double model) {
        /** |F(C \ K) − F(M \ K)|. */
        public double gap() {
            return Math.abs(circuit - model);
        }
    }

    /** The completeness table: for each named K, F(C \ K) against F(M \ K). */
    public record Completeness(List<Knockout> rows) implements Displayable {
        /** The largest |F(C \ K) − F(M \ K)|. */
        public double largestGap() {
            return rows.stream().mapToDouble(Knockout::gap).max().orElse(0);
        }

        public Table toTable() {
            return Table.create("completeness: the circuit and the model with the same heads knocked out",
                    StringColumn.create("K (knocked out)", rows.stream().map(Knockout::removed).toList()),
                    DoubleColumn.create("F(C \\ K)", rows.stream().mapToDouble(Knockout::circuit).toArray()),
                    DoubleColumn.create("F(M \\ K)", rows.stream().mapToDouble(Knockout::model).toArray()),
                    DoubleColumn.create("|difference|", rows.stream().mapToDouble(Knockout::gap).toArray()));
        }

        @Override
        public MimeBundle mimeBundle() {
            return TableView.bundle(toTable());
        }
    }

    /**
     * Completeness over {@code subsets} (name → K, each a subset of the circuit): F(C \ K) keeps only the circuit's heads
     * outside K; F(M \ K) mean-ablates K in the whole model. The empty set is always the first row.
     */
    public static Completeness completeness(HookedTransformer model, IoiDataset data, ActivationCache reference,
                                            Collection<Head> circuit, Map<String, List<Head>> subsets) {
        Map<String, List<Head>> all = new LinkedHashMap<>();
        all.put("none", List.of());
        all.putAll(subsets);
        List<Knockout> rows = new ArrayList<>();
        for (var e : all.entrySet()) {
            List<Head> k = e.getValue();
            List<Head> rest = circuit.stream().filter(h -> !k.contains(h)).toList();
            double modelMinusK = IoiCircuit.logitDiff(data, model.runWithHooks(data.tokens(), meanAblate(model, k, reference)));
            rows.add(new Knockout(e.getKey() + (k.isEmpty() ? "" : " " + k), keepOnly(model, data, reference, rest), modelMinusK));
        }
        return new Completeness(List.copyOf(rows));
    }

    /** One head's minimality: F(C \ K) and F(C \ (K ∪ {v})), K its class-mates. */
    public record HeadMinimality(Head head, String label, List<Head> k, double without, double withoutHead) {
        /** F(C \ K) − F(C \ (K ∪ {v})), as a share of F(M) when divided by it. */
        public double change() {
            return without - withoutHead;
        }
    }

    /** Minimality of each head of the circuit, by class. */
    public record Minimality(double modelLogitDiff, List<HeadMinimality> rows) implements Displayable {
        public Table toTable() {
            return Table.create("minimality: what each head adds to the circuit without its class-mates",
                    StringColumn.create("head", rows.stream().map(r -> r.head().toString()).toList()),
                    StringColumn.create("label", rows.stream().map(HeadMinimality::label).toList()),
                    StringColumn.create("K", rows.stream().map(r -> r.k().toString()).toList()),
                    DoubleColumn.create("F(C \\ K)", rows.stream().mapToDouble(HeadMinimality::without).toArray()),
                    DoubleColumn.create("F(C \\ (K ∪ v))", rows.stream().mapToDouble(HeadMinimality::withoutHead).toArray()),
                    DoubleColumn.create("change / F(M)", rows.stream().mapToDouble(r -> r.change() / modelLogitDiff).toArray()));
        }

        @Override
        public MimeBundle mimeBundle() {
            return TableView.bundle(toTable());
        }
    }

    /** For each head v of {@code classes}, K = the other heads of its class: F(C \ K) against F(C \ (K ∪ {v})). */
    public static Minimality minimality(HookedTransformer model, IoiDataset data, ActivationCache reference,
                                        Map<String, List<Head>> classes) {
        List<Head> circuit = circuit(classes);
        double whole = IoiCircuit.logitDiff(data, model.forward(data.tokens()));
        List<HeadMinimality> rows = new ArrayList<>();
        for (var e : classes.entrySet()) {
            for (Head v : e.getValue()) {
                List<Head> k = e.getValue().stream().filter(h -> !h.equals(v)).toList();
                List<Head> withoutK = circuit.stream().filter(h -> !k.contains(h)).toList();
                List<Head> withoutKv = withoutK.stream().filter(h -> !h.equals(v)).toList();
                rows.add(new HeadMinimality(v, e.getKey(), k, keepOnly(model, data, reference, withoutK),
                        keepOnly(model, data, reference, withoutKv)));
            }
        }
        return new Minimality(whole, List.copyOf(rows));
    }

    private static List<Head> allHeads(ModelConfig cfg) {
        List<Head> all = new ArrayList<>();
        for (int l = 0; l < cfg.nLayers(); l++) {
            for (int h = 0; h < cfg.nHeads(); h++) {
                all.add(new Head(l, h));
            }
        }
        return all;
    }
}
