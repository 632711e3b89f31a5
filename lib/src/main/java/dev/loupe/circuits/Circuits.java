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
        // Orthonormal outer factors do not change Frobenius norms: with A = Qa Ra, ‖AB Y‖ = ‖Ra B Y‖, and with
        // B^T = Qb Rb, ‖Y AB‖ = ‖Y A Rb^T‖. So the earlier OV becomes Ra B [head, d_head, d_model] and the later
        // circuit A Rb^T [head, d_model, d_head] (TransformerLens uses S Vh^T and U S from SVDs to the same effect).
        List<NDArray> left = new ArrayList<>();
        List<double[]> leftNorms = new ArrayList<>();
        List<NDArray> right = new ArrayList<>();
        List<double[]> rightNorms = new ArrayList<>();
        for (int l = 0; l < nLayers; l++) {
            FactoredMatrix ov = OV(model, l);
            FactoredMatrix later = switch (mode) {
                case Q -> QK(model, l);
                case K -> QK(model, l).T();
                case V -> ov;
            };
            NDArray x = ov.leftReduced64();
            NDArray y = later.rightReduced64();
            left.add(x);
            right.add(y);
            leftNorms.add(frobenius(x));
            rightNorms.add(frobenius(y));
        }
        double[] scores = new double[nLayers * nHeads * nLayers * nHeads];
        for (int l1 = 0; l1 < nLayers - 1; l1++) {
            NDList later = new NDList();
            for (int l2 = l1 + 1; l2 < nLayers; l2++) {
                later.add(right.get(l2));
            }
            int nLater = (nLayers - l1 - 1) * nHeads;
            double[] norms = pairNorms(left.get(l1), NDArrays.concat(later, 0)); // [h1, (l2 - l1 - 1) * nHeads + h2]
            for (int h1 = 0; h1 < nHeads; h1++) {
                for (int l2 = l1 + 1; l2 < nLayers; l2++) {
                    for (int h2 = 0; h2 < nHeads; h2++) {
                        double composed = norms[h1 * nLater + (l2 - l1 - 1) * nHeads + h2];
                        scores[((l1 * nHeads + h1) * nLayers + l2) * nHeads + h2] =
                                composed / leftNorms.get(l1)[h1] / rightNorms.get(l2)[h2];
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
        int nl = (int) leftLeading.size();
        int nr = (int) rightLeading.size();
        NDArray x = left.leftReduced64().reshape(nl, -1, left.rdim());
        NDArray y = right.rightReduced64().reshape(nr, right.ldim(), -1);
        double[] composed = pairNorms(x, y);
        double[] xNorms = frobenius(x);
        double[] yNorms = frobenius(y);
        double[] out = new double[nl * nr];
        for (int i = 0; i < nl; i++) {
            for (int j = 0; j < nr; j++) {
                out[i * nr + j] = composed[i * nr + j] / xNorms[i] / yNorms[j];
            }
        }
        NDArray scores = Tensors.ofDoubles(out, leftLeading.addAll(rightLeading));
        DataType t = left.dataType();
        return t == DataType.FLOAT64 ? scores : scores.toType(t, false);
    }

    /** ‖x_i y_j‖ for x [I, p, d] and y [J, d, q], as flat [I, J]: one large matrix product per chunk of x. */
    private static double[] pairNorms(NDArray x, NDArray y) {
        int ni = (int) x.getShape().get(0);
        long p = x.getShape().get(1);
        long d = x.getShape().get(2);
        int nj = (int) y.getShape().get(0);
        long q = y.getShape().get(2);
        NDArray yFlat = y.transpose(1, 0, 2).reshape(d, nj * q); // [d, (j, q)]
        long perRow = p * nj * q;
        int chunk = (int) Math.max(1, Math.min(ni, (16L << 20) / Math.max(1, perRow))); // at most ~128 MB of products
        double[] out = new double[ni * nj];
        for (int start = 0; start < ni; start += chunk) {
            int end = Math.min(ni, start + chunk);
            NDArray xs = x.get(start + ":" + end).reshape((end - start) * p, d);
            NDArray prod = xs.matMul(yFlat).reshape(end - start, p, nj, q);
            double[] norms = prod.square().sum(new int[] {1, 3}).sqrt().toDoubleArray();
            System.arraycopy(norms, 0, out, start * nj, norms.length);
        }
        return out;
    }

    /** The Frobenius norm of each matrix of x [n, a, b]. */
    private static double[] frobenius(NDArray x) {
        return x.square().sum(new int[] {-2, -1}).sqrt().toDoubleArray();
    }
}
