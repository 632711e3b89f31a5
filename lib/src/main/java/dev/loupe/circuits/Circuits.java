package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.List;

/**
 * The QK and OV circuits of attention heads as {@link FactoredMatrix}es, and the composition scores between heads
 * (Elhage et al., "A Mathematical Framework for Transformer Circuits"), as TransformerLens computes them.
 *
 * <p>Conventions are TransformerLens's: activations are row vectors, a head writes {@code x @ W_V @ W_O} into the
 * residual stream and its attention score between a query residual x_q and a key residual x_k is
 * {@code x_q @ W_Q @ W_K^T @ x_k^T}. So QK = W_Q W_K^T and OV = W_V W_O, both [head, d_model, d_model]. Biases and
 * layer norms are left out, as in TransformerLens (fold them into the weights first).
 */
public final class Circuits {

    /** Which input of the later head the earlier head's output is composed with. */
    public enum Mode {
        /** The later head's queries. */
        Q,
        /** The later head's keys. */
        K,
        /** The later head's values. */
        V
    }

    private Circuits() {}

    /** W_Q W_K^T per head of the layer: [head, d_model, d_model], factored through d_head. */
    public static FactoredMatrix QK(HookedTransformer model, int layer) {
        return new FactoredMatrix(model.W_Q(layer), FactoredMatrix.mT(model.W_K(layer)));
    }

    /** W_V W_O per head of the layer: [head, d_model, d_model], factored through d_head. */
    public static FactoredMatrix OV(HookedTransformer model, int layer) {
        return new FactoredMatrix(model.W_V(layer), model.W_O(layer));
    }

    /** Every layer's QK circuits, [layer, head, d_model, d_model] (TransformerLens's {@code model.QK}). */
    public static FactoredMatrix QK(HookedTransformer model) {
        return new FactoredMatrix(stack(model, "W_Q", false), stack(model, "W_K", true));
    }

    /** Every layer's OV circuits, [layer, head, d_model, d_model] (TransformerLens's {@code model.OV}). */
    public static FactoredMatrix OV(HookedTransformer model) {
        return new FactoredMatrix(stack(model, "W_V", false), stack(model, "W_O", false));
    }

    private static NDArray stack(HookedTransformer model, String weight, boolean transpose) {
        NDList layers = new NDList();
        for (int l = 0; l < model.config().nLayers(); l++) {
            NDArray w = model.parameter("blocks." + l + ".attn." + weight);
            layers.add(transpose ? FactoredMatrix.mT(w) : w);
        }
        return NDArrays.stack(layers, 0);
    }

    /**
     * The full QK circuit W_E QK W_E^T per head, [head, d_vocab, d_vocab]: entry (i, j) is the attention score
     * (before scaling) a query on token i gives a key on token j, through the embedding alone. Kept factored as
     * (W_E W_Q) (W_K^T W_E^T).
     */
    public static FactoredMatrix fullQK(HookedTransformer model, int layer) {
        NDArray wE = model.W_E();
        return QK(model, layer).leftMatMul(wE).matMul(wE.transpose());
    }

    /**
     * The full OV circuit W_E OV W_U per head, [head, d_vocab, d_vocab_out]: entry (i, j) is how much attending to
     * token i raises the logit of token j. Kept factored as (W_E W_V) (W_O W_U).
     */
    public static FactoredMatrix fullOV(HookedTransformer model, int layer) {
        return OV(model, layer).leftMatMul(model.W_E()).matMul(model.W_U());
    }

    // ---------------------------------------------------------------- composition scores

    /**
     * Composition scores between every pair of heads, [l1, h1, l2, h2], TransformerLens's
     * {@code all_composition_scores(mode)}: how much head (l1, h1)'s output is read by head (l2, h2)'s queries,
     * keys or values. Zero wherever l2 ≤ l1 (a head cannot read a head of its own or a later layer).
     *
     * <p>With OV1 the earlier head's OV circuit and the later head's QK2 and OV2, in the row-vector convention:
     * <ul>
     *   <li>Q: the earlier output y OV1 enters the later query, score y (OV1 QK2) x_k^T, so
     *       ‖OV1 · QK2‖ / (‖OV1‖ ‖QK2‖).</li>
     *   <li>K: it enters the later key, score x_q QK2 (y OV1)^T = x_q (QK2 OV1^T) y^T, so
     *       ‖OV1 · QK2^T‖ / (‖OV1‖ ‖QK2‖).</li>
     *   <li>V: it enters the later value, (y OV1) OV2, so ‖OV1 · OV2‖ / (‖OV1‖ ‖OV2‖).</li>
     * </ul>
     * All norms are Frobenius. In the paper's column-vector notation (W_OV = W_O W_V, W_QK = W_Q^T W_K) these are
     * its ‖W_QK^T W_OV‖, ‖W_QK W_OV‖ and ‖W_OV2 W_OV1‖. Each score lies in [0, 1].
     */
    public static CompositionScores allCompositionScores(HookedTransformer model, Mode mode) {
        int nLayers = model.config().nLayers();
        int nHeads = model.config().nHeads();
        // The orthogonal outer factors do not change Frobenius norms, so each circuit is replaced by its collapsed
        // form: OV1 by S Vh^T [r, d_model] (U dropped on the left), the later circuit by U S [d_model, r] (Vh dropped).
        List<NDArray> left = new ArrayList<>();
        List<NDArray> leftNorms = new ArrayList<>();
        List<NDArray> right = new ArrayList<>();
        List<NDArray> rightNorms = new ArrayList<>();
        for (int l = 0; l < nLayers; l++) {
            FactoredMatrix ov = OV(model, l);
            left.add(ov.collapseL64());
            leftNorms.add(ov.norm64());
            FactoredMatrix later = switch (mode) {
                case Q -> QK(model, l);
                case K -> QK(model, l).T();
                case V -> ov;
            };
            right.add(later.collapseR64());
            rightNorms.add(later.norm64());
        }
        double[] scores = new double[nLayers * nHeads * nLayers * nHeads];
        for (int l1 = 0; l1 < nLayers; l1++) {
            NDArray x = left.get(l1).expandDims(1);               // [h1, 1, r, d_model]
            NDArray xNorm = leftNorms.get(l1).expandDims(1);     // [h1, 1]
            for (int l2 = l1 + 1; l2 < nLayers; l2++) {
                NDArray y = right.get(l2).expandDims(0);          // [1, h2, d_model, r]
                NDArray composed = x.matMul(y).square().sum(new int[] {-2, -1}).sqrt(); // [h1, h2]
                double[] block = composed.div(xNorm).div(rightNorms.get(l2).expandDims(0)).toDoubleArray();
                for (int h1 = 0; h1 < nHeads; h1++) {
                    for (int h2 = 0; h2 < nHeads; h2++) {
                        scores[((l1 * nHeads + h1) * nLayers + l2) * nHeads + h2] = block[h1 * nHeads + h2];
                    }
                }
            }
        }
        NDArray values = Tensors.ofDoubles(scores, new Shape(nLayers, nHeads, nLayers, nHeads));
        DataType t = model.config().dtype();
        return new CompositionScores(mode, t == DataType.FLOAT64 ? values : values.toType(t, false));
    }

    /**
     * ‖left · right‖ / (‖left‖ ‖right‖) (Frobenius) for every pair of matrices, TransformerLens's
     * {@code utils.composition_scores(left, right, broadcast_dims=True)}: the result has left's leading dimensions
     * followed by right's, e.g. [h1, h2] for two per-head circuits. Requires left's columns to match right's rows.
     */
    public static NDArray compositionScores(FactoredMatrix left, FactoredMatrix right) {
        if (left.rdim() != right.ldim()) {
            throw new IllegalArgumentException("Composition needs left's columns to match right's rows: left " + left
                    + ", right " + right);
        }
        Shape leftLeading = left.leadingShape();
        Shape rightLeading = right.leadingShape();
        long nl = leftLeading.size();
        long nr = rightLeading.size();
        NDArray x = left.collapseL64().reshape(nl, 1, -1, left.rdim());
        NDArray y = right.collapseR64().reshape(1, nr, right.ldim(), -1);
        NDArray norms = x.matMul(y).square().sum(new int[] {-2, -1}).sqrt()
                .div(left.norm64().reshape(nl, 1)).div(right.norm64().reshape(1, nr));
        NDArray out = norms.reshape(leftLeading.addAll(rightLeading));
        DataType t = left.dataType();
        return t == DataType.FLOAT64 ? out : out.toType(t, false);
    }
}
