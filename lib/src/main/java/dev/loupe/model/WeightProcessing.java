package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

import dev.loupe.load.LoadOptions;
import dev.loupe.model.ModelConfig.Normalization;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TransformerLens's default weight processing, each step exact (the model's log-probabilities do not change):
 * <ul>
 * <li>fold norms: each norm's weight (and LayerNorm's bias) moves into the weights that read its output (W_Q/K/V,
 *   W_in and W_gate, W_U); LayerNorm readers are also centred over d_model, which is free because the norm's output
 *   has zero mean. RMS norms are only scaled: their output is not centred. LN becomes LNPre, RMS becomes RMSPre.
 *   Post norms and q/k norms act after a projection or a rotation and keep their weights.</li>
 * <li>centre writing weights: W_E, W_pos, W_O, b_O, W_out, b_out lose their mean over d_model, which every
 *   reader's LayerNorm would remove anyway. Not for RMS norms (they do not centre) nor post norms (W_O and W_out
 *   then feed a norm of their own).</li>
 * <li>centre unembed: W_U and b_U lose their mean over the vocabulary, which softmax ignores, unless the logits are
 *   soft-capped (tanh is not shift-invariant).</li>
 * <li>fold value biases: b_V passes through attention unchanged (pattern rows sum to 1), so b_V W_O joins b_O;
 *   a grouped key/value head's bias counts once for each query head it serves.</li>
 * </ul>
 * Shortformer models add positions to ln1's output, for queries and keys only: folding ln1's w into W_Q and W_K would
 * scale the positions too, and centring W_Q, W_K or W_pos would no longer cancel out. Those models keep their layer
 * norms and positions as trained; the other steps apply.
 */
public final class WeightProcessing {

    private WeightProcessing() {}

    /** The config of weights processed by {@link #process}: LNPre or RMSPre where norms were folded. */
    public static ModelConfig processedConfig(ModelConfig cfg, LoadOptions options) {
        return foldsNorms(cfg, options) ? cfg.toBuilder().normalization(cfg.normalization().folded()).build() : cfg;
    }

    /**
     * Processed TransformerLens-named weights, as the options say. The input map is not changed, but the arrays
     * in it are consumed: each one replaced is closed at once, so loading needs little more than one copy.
     */
    public static Map<String, NDArray> process(ModelConfig cfg, Map<String, NDArray> weights, LoadOptions options) {
        Map<String, NDArray> w = new ConsumingMap(weights);
        if (foldsNorms(cfg, options)) {
            foldNorms(cfg, w);
        }
        // Centring what writes to the residual stream is exact only if every reader centres first.
        boolean centringReaders = (cfg.normalization() == Normalization.LN || cfg.normalization() == Normalization.LN_PRE)
                && !cfg.postNorms();
        if (options.centerWritingWeights() && centringReaders) {
            centreWritingWeights(cfg, w);
        }
        if (options.centerUnembed() && cfg.outputLogitsSoftCap() == 0) {
            centreUnembed(w);
        }
        if (options.foldValueBiases()) {
            foldValueBiases(cfg, w);
        }
        return w;
    }

    private static boolean foldsNorms(ModelConfig cfg, LoadOptions options) {
        boolean lnBiasIntoGate = cfg.normalization() == Normalization.LN && cfg.gatedMlp(); // b_in is added after the gate
        return options.foldLn() && cfg.normalization().hasWeights() && !lnBiasIntoGate
                && cfg.positionalEmbedding() != ModelConfig.PositionalEmbedding.SHORTFORMER;
    }

    /** Each main norm and the weights [..., d_model on axis, ...] that read its output, with their biases. */
    private static void foldNorms(ModelConfig cfg, Map<String, NDArray> w) {
        boolean centre = cfg.normalization() == Normalization.LN;
        for (int l = 0; l < cfg.nLayers(); l++) {
            String b = "blocks." + l + ".";
            List<String[]> ln1Readers = new ArrayList<>();
            for (String x : List.of("Q", "K", "V")) {
                ln1Readers.add(new String[] {b + "attn.W_" + x, b + "attn.b_" + x});
            }
            List<String[]> mlpReaders = new ArrayList<>();
            if (!cfg.attnOnly()) {
                mlpReaders.add(new String[] {b + "mlp.W_in", b + "mlp.b_in"});
                if (cfg.gatedMlp()) {
                    mlpReaders.add(new String[] {b + "mlp.W_gate", null});
                }
            }
            if (cfg.parallelSharedNorm()) { // GPT-J: the MLP reads ln1 too
                ln1Readers.addAll(mlpReaders);
                mlpReaders.clear();
            }
            fold(w, b + "ln1", ln1Readers, centre);
            if (!mlpReaders.isEmpty()) {
                fold(w, b + "ln2", mlpReaders, centre);
            }
        }
        fold(w, "ln_final", List.<String[]>of(new String[] {"unembed.W_U", "unembed.b_U"}), centre);
    }

    /**
     * Folds a norm's w (and b) into readers: W [..., d_model, ...] with d_model on the second-to-last axis for
     * attention [head, d_model, d_head] and the first for [d_model, out]; the bias gains b·W summed over d_model.
     */
    private static void fold(Map<String, NDArray> w, String norm, List<String[]> readers, boolean centre) {
        inScope(() -> {
            NDArray lnW = w.remove(norm + ".w");
            NDArray lnB = w.remove(norm + ".b");
            for (String[] reader : readers) {
                NDArray W = w.get(reader[0]);
                int axis = W.getShape().dimension() == 3 ? 1 : 0;
                long[] column = W.getShape().dimension() == 3 ? new long[] {1, -1, 1} : new long[] {-1, 1};
                if (lnB != null) {
                    w.put(reader[1], w.get(reader[1]).add(W.mul(lnB.reshape(column)).sum(new int[] {axis})));
                }
                NDArray scaled = W.mul(lnW.reshape(column));
                w.put(reader[0], centre ? centredInPlace(scaled, axis) : scaled);
            }
        });
    }

    private static void centreWritingWeights(ModelConfig cfg, Map<String, NDArray> w) {
        centre(w, "embed.W_E", -1);
        if (cfg.positionalEmbedding() == ModelConfig.PositionalEmbedding.STANDARD) {
            centre(w, "pos_embed.W_pos", -1); // shortformer positions are never written to the residual stream; rotary has none
        }
        for (int l = 0; l < cfg.nLayers(); l++) {
            String b = "blocks." + l + ".";
            centre(w, b + "attn.W_O", -1);
            centre(w, b + "attn.b_O", -1);
            if (!cfg.attnOnly()) {
                centre(w, b + "mlp.W_out", -1);
                centre(w, b + "mlp.b_out", -1);
            }
        }
    }

    private static void centreUnembed(Map<String, NDArray> w) {
        centre(w, "unembed.W_U", -1);
        centre(w, "unembed.b_U", -1);
    }

    private static void foldValueBiases(ModelConfig cfg, Map<String, NDArray> w) {
        for (int l = 0; l < cfg.nLayers(); l++) {
            String b = "blocks." + l + ".attn.";
            inScope(() -> {
                NDArray bV = w.get(b + "b_V"); // [kv_head, d_head]
                NDArray W_O = w.get(b + "W_O"); // [head, d_head, d_model]
                long group = cfg.nHeads() / cfg.nKeyValueHeads();
                NDArray perHead = group == 1 ? bV : bV.repeat(0, group); // [head, d_head]
                NDArray folded = perHead.expandDims(1).matMul(W_O).sum(new int[] {0, 1}); // Σ_h b_V[h] W_O[h]: [d_model]
                w.put(b + "b_O", w.get(b + "b_O").add(folded));
                w.put(b + "b_V", bV.zerosLike());
            });
        }
    }

    /** Runs one step so that its temporaries are freed as soon as it ends. */
    private static void inScope(Runnable step) {
        try (NDScope scope = new NDScope()) {
            step.run();
        }
    }

    /** A weights map that closes an array when a processing step replaces or removes it. */
    private static final class ConsumingMap extends LinkedHashMap<String, NDArray> {
        ConsumingMap(Map<String, NDArray> weights) {
            super(weights);
        }

        @Override
        public NDArray put(String name, NDArray value) {
            // Each step's temporaries are in its own scope; the value kept must outlive it.
            NDScope.unregister(value);
            NDArray old = super.put(name, value);
            if (old != null && old != value) {
                old.close();
            }
            return null;
        }

        @Override
        public NDArray remove(Object name) {
            NDArray old = super.remove(name);
            if (old != null) {
                // Still returned to the caller, who reads it within the step; freed when the step's scope ends.
                NDScope.register(old);
            }
            return old;
        }
    }

    private static void centre(Map<String, NDArray> w, String name, int axis) {
        inScope(() -> w.put(name, centred(w.get(name), axis)));
    }

    private static NDArray centred(NDArray a, int axis) {
        return a.sub(a.mean(new int[] {axis}, true));
    }

    /** Centres an array this step has just made (nothing else can see it), without a second copy. */
    private static NDArray centredInPlace(NDArray fresh, int axis) {
        return fresh.subi(fresh.mean(new int[] {axis}, true));
    }
}
