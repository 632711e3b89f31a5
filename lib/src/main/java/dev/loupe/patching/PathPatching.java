package dev.loupe.patching;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookSession;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.MemoryBudget;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Path patching (Wang et al., 2022): the effect of a sender head's output reaching the logits directly, or
 * reaching chosen receiver heads' queries, keys or values, with every other path held fixed. The model runs on
 * {@code tokens}; the sender's output (hook_z) comes from {@code source}; every other head's output is frozen to
 * its value in {@code target} (the cache of the run on {@code tokens}); MLPs recompute. With tokens = clean and
 * source = corrupted this is the paper's noising direction; swap them for denoising.
 *
 * <p>Every head is tried as the sender: the senders of one layer run as copies of the batch in one forward pass
 * starting from that layer's cached residual, in chunks that fit the {@link MemoryBudget}; runs toward receivers
 * stop at the last receiver's layer, and a metric that reads one position per prompt ({@link Metrics.AtPositions})
 * gets only those positions unembedded.
 */
public final class PathPatching {

    /** A head: layer and index. */
    public record Head(int layer, int head) {
        @Override
        public String toString() {
            return layer + "." + head;
        }
    }

    private PathPatching() {}

    /** metric(logits) with each head [layer, head] as the sender, reaching the logits through no other head. */
    public static PatchingResult toLogits(HookedTransformer model, NDArray tokens, ActivationCache target, ActivationCache source,
                                          Function<NDArray, NDArray> metric) {
        return result("Path patching to the logits", model, sweep(model, tokens, target, source, model.config().nLayers(),
                List.of(), null, metric));
    }

    /**
     * metric(logits) with each head below the receivers as the sender, reaching only the receivers' {@code input}
     * ("q", "k" or "v"): the receivers' inputs are taken from the frozen run with the sender patched, then put
     * into an otherwise unchanged run on {@code tokens}. [layer, head]; entries at or above the first receiver's
     * layer are NaN. With grouped-query attention a receiver's keys and values are its group's (one key/value head
     * serves several query heads), so the path reaches every head of the group; queries stay per head.
     */
    public static PatchingResult toReceivers(HookedTransformer model, NDArray tokens, ActivationCache target, ActivationCache source,
                                             List<Head> receivers, String input, Function<NDArray, NDArray> metric) {
        if (!List.of("q", "k", "v").contains(input)) {
            throw new IllegalArgumentException("Receivers read their input as q, k or v; got '" + input + "'");
        }
        if (receivers.isEmpty()) {
            throw new IllegalArgumentException("Name at least one receiver head");
        }
        int firstReceiver = receivers.stream().mapToInt(Head::layer).min().getAsInt();
        return result("Path patching to " + receivers + " " + input, model,
                sweep(model, tokens, target, source, firstReceiver, receivers, input, metric));
    }

    /** Every head of the layers below {@code senderLayers} as the sender; [layer, head] flat, NaN above. */
    private static double[] sweep(HookedTransformer model, NDArray tokens, ActivationCache target, ActivationCache source,
                                  int senderLayers, List<Head> receivers, String input, Function<NDArray, NDArray> metric) {
        ModelConfig cfg = model.config();
        for (int l = 0; l < cfg.nLayers(); l++) {
            String name = ActNames.actName("resid_pre", l);
            if (model.hookPoint(name).hookCount() > 0) {
                // Runs restart from the target cache's resid_pre, which those hooks have already acted on.
                throw new IllegalStateException("Path patching restarts runs at " + name + ", where "
                        + model.hookPoint(name).hookCount() + " hook(s) or a spliced SAE act; they would act twice. "
                        + "Remove them (close the hooks(...) or saes(...) session) or splice the SAE elsewhere.");
            }
        }
        int heads = cfg.nHeads();
        long batch = tokens.getShape().get(0);
        long pos = tokens.getShape().get(1);
        long[] unembedAt = Metrics.positionsRead(metric, tokens.getShape());
        MemoryBudget budget = MemoryBudget.forWork("Path patching");
        budget.requireUnitFits(PatchedRuns.copyLowerBound(cfg, target.logits().getDataType(), batch, pos, unembedAt != null),
                "sender's copy of the batch (" + batch + " prompts of " + pos + " positions)");
        double[] values = new double[cfg.nLayers() * heads];
        java.util.Arrays.fill(values, Double.NaN);
        try (SweepProgress progress = new SweepProgress("path patching", (long) senderLayers * heads)) {
            for (int layer = 0; layer < senderLayers; layer++) {
                int count;
                for (int first = 0; first < heads; first += count) {
                    count = budget.nextChunk(heads - first);
                    Senders senders = new Senders(layer, first, count, batch);
                    double[] scores = budget.measure(count, () -> run(model, target, source, senders, receivers, input, unembedAt, metric));
                    System.arraycopy(scores, 0, values, layer * heads + first, count);
                    progress.advance(count);
                }
            }
        }
        return values;
    }

    /** Heads first..first+count-1 of {@code layer}, one per copy of a batch of {@code batch} prompts. */
    private record Senders(int layer, int first, int count, long batch) {}

    /** One copy of the run per sender, that head patched from the source in its copy. */
    private static double[] run(HookedTransformer model, ActivationCache target, ActivationCache source, Senders senders,
                                List<Head> receivers, String input, long[] unembedAt, Function<NDArray, NDArray> metric) {
        int copies = senders.count();
        int layer = senders.layer();
        long[] unembedTiled = PatchedRuns.tile(unembedAt, copies);
        int stop = receivers.isEmpty() ? model.config().nLayers() : receivers.stream().mapToInt(Head::layer).max().getAsInt() + 1;
        try (NDScope scope = new NDScope()) {
            // Step 1: senders patched, every other head frozen to the target run, up to the last receiver.
            List<Hook> hooks = new ArrayList<>();
            for (int l = layer; l < stop; l++) {
                String name = ActNames.actName("z", l);
                NDArray frozen = Tensors.tile(target.get(name), copies);
                NDArray patched = l == layer ? senderPerCopy(frozen, source.get(name), senders) : frozen;
                hooks.add(Hook.of(name, (z, h) -> patched));
            }
            NDArray residPre = Tensors.tile(target.get("resid_pre", layer), copies);
            if (receivers.isEmpty()) {
                try (HookSession session = model.hooks(hooks.toArray(Hook[]::new))) {
                    return PatchedRuns.scores(model.forwardFromLayer(layer, residPre, unembedTiled), copies, senders.batch(), metric);
                }
            }
            // By receiver, not in the order hooks fire: receivers in a later layer may be listed first.
            NDArray[] captured = new NDArray[receivers.size()];
            for (int i = 0; i < receivers.size(); i++) {
                Head r = receivers.get(i);
                int slot = i;
                int head = inputHead(model, r, input);
                hooks.add(Hook.of(ActNames.actName(input, r.layer()), (act, h) -> {
                    captured[slot] = act.get(":, :, " + head + ", :");
                    return null;
                }));
            }
            try (HookSession session = model.hooks(hooks.toArray(Hook[]::new))) {
                model.residualAt(layer, stop, residPre);
            }
            // Step 2: only the receivers' inputs changed, in a fresh run from their layer.
            int first = receivers.stream().mapToInt(Head::layer).min().getAsInt();
            List<Hook> receiverHooks = new ArrayList<>();
            for (int i = 0; i < receivers.size(); i++) {
                Head r = receivers.get(i);
                NDArray value = captured[i];
                int head = inputHead(model, r, input);
                receiverHooks.add(Hook.of(ActNames.actName(input, r.layer()), (act, h) -> {
                    NDArray copy = act.duplicate();
                    copy.set(new ai.djl.ndarray.index.NDIndex(":, :, " + head + ", :"), value);
                    return copy;
                }));
            }
            try (HookSession session = model.hooks(receiverHooks.toArray(Hook[]::new))) {
                NDArray logits = model.forwardFromLayer(first, Tensors.tile(target.get("resid_pre", first), copies), unembedTiled);
                return PatchedRuns.scores(logits, copies, senders.batch(), metric);
            }
        }
    }

    /** The head axis index of a receiver's input: its own for queries, its group's key/value head for keys and values. */
    private static int inputHead(HookedTransformer model, Head receiver, String input) {
        ModelConfig cfg = model.config();
        return input.equals("q") ? receiver.head() : receiver.head() / (cfg.nHeads() / cfg.nKeyValueHeads());
    }

    /** Frozen z [copies · batch, pos, head, d_head] with head first + i of copy i taken from the source run. */
    private static NDArray senderPerCopy(NDArray frozen, NDArray source, Senders senders) {
        Shape s = frozen.getShape();
        int copies = senders.count();
        int heads = (int) s.get(2);
        NDArray byCopy = frozen.reshape(new Shape(copies, senders.batch()).addAll(s.slice(1)));
        boolean[] on = new boolean[copies * heads];
        for (int i = 0; i < copies; i++) {
            on[i * heads + senders.first() + i] = true;
        }
        NDArray mask = Tensors.ofBooleans(on, new Shape(copies, 1, 1, heads, 1)).broadcast(byCopy.getShape());
        NDArray fromSource = source.expandDims(0).broadcast(byCopy.getShape());
        return NDArrays.where(mask, fromSource, byCopy).reshape(s);
    }

    private static PatchingResult result(String title, HookedTransformer model, double[] values) {
        int layers = model.config().nLayers();
        int heads = model.config().nHeads();
        return new PatchingResult(title, Tensors.ofDoubles(values, new Shape(layers, heads)), List.of("layer", "head"),
                List.of(Patching.numbered("", layers), Patching.numbered("H", heads)));
    }
}
