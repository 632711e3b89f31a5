package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

/**
 * Thin QR factorisations of a batch of tall matrices X [L, m, k] (float64): X = Q R with Q [L, m, p] having
 * orthonormal columns and R [L, p, k] upper triangular, p = min(m, k).
 *
 * <p>The tall side (m is d_model or d_vocab) is handled by libtorch matrix products: CholeskyQR2, i.e. R1 from the
 * Cholesky factor of X^T X, Q1 = X R1^-1, then the same once more on Q1, which restores orthogonality to working
 * precision whenever X's condition number is below about 1e8. Only k x k work (Cholesky, triangular inverses)
 * happens in Java. A matrix for which that fails or leaves Q measurably non-orthogonal (rank-deficient or
 * nearly so) is factorised by Householder reflections in Java instead ({@link DenseLinalg#qrOfColumns}).
 */
final class ThinQr {

    /** Tolerated max |Q^T Q − I| before a matrix is redone by Householder. */
    private static final double ORTHOGONALITY = 1e-10;

    final NDArray q;
    final NDArray r;

    private ThinQr(NDArray q, NDArray r) {
        this.q = q;
        this.r = r;
    }

    static ThinQr of(NDArray x) {
        Shape s = x.getShape();
        int count = (int) s.get(0);
        int m = (int) s.get(1);
        int k = (int) s.get(2);
        if (x.getDataType() != DataType.FLOAT64) {
            x = x.toType(DataType.FLOAT64, false);
        }
        if (m < k || count == 0) {
            return householder(x, count, m, k, null, null, new boolean[count]);
        }
        boolean[] failed = new boolean[count];
        double[][] r1 = cholesky(gram(x), count, k, failed);
        NDArray q1 = x.matMul(Tensors.ofDoubles(flatInverse(r1, k), new Shape(count, k, k)));
        double[][] r2 = cholesky(gram(q1), count, k, failed);
        NDArray q = q1.matMul(Tensors.ofDoubles(flatInverse(r2, k), new Shape(count, k, k)));
        double[] check = gram(q);
        double[] r = new double[count * k * k];
        for (int i = 0; i < count; i++) {
            for (int a = 0; a < k && !failed[i]; a++) {
                for (int b = 0; b < k; b++) {
                    double v = check[(i * k + a) * k + b];
                    if (!(Math.abs(v - (a == b ? 1 : 0)) <= ORTHOGONALITY)) { // also catches NaN
                        failed[i] = true;
                        break;
                    }
                }
            }
            if (!failed[i]) { // R = R2 R1, both upper triangular
                for (int a = 0; a < k; a++) {
                    for (int b = a; b < k; b++) {
                        double sum = 0;
                        for (int t = a; t <= b; t++) {
                            sum += r2[i][a * k + t] * r1[i][t * k + b];
                        }
                        r[(i * k + a) * k + b] = sum;
                    }
                }
            }
        }
        NDArray rArray = Tensors.ofDoubles(r, new Shape(count, k, k));
        for (boolean f : failed) {
            if (f) {
                return householder(x, count, m, k, q, rArray, failed);
            }
        }
        return new ThinQr(q, rArray);
    }

    /** X^T X per matrix, flat [count, k, k]. */
    private static double[] gram(NDArray x) {
        return x.transpose(0, 2, 1).matMul(x).toDoubleArray();
    }

    /** Upper-triangular R with G = R^T R per matrix (flat k x k), or null where G is not safely positive definite. */
    private static double[][] cholesky(double[] g, int count, int k, boolean[] failed) {
        double[][] out = new double[count][];
        for (int i = 0; i < count; i++) {
            if (failed[i]) {
                out[i] = null;
                continue;
            }
            int base = i * k * k;
            double maxDiag = 0;
            for (int j = 0; j < k; j++) {
                maxDiag = Math.max(maxDiag, g[base + j * k + j]);
            }
            double[] r = new double[k * k];
            boolean ok = maxDiag > 0;
            for (int j = 0; j < k && ok; j++) {
                double d = g[base + j * k + j];
                for (int t = 0; t < j; t++) {
                    d -= r[t * k + j] * r[t * k + j];
                }
                if (!(d > maxDiag * 1e-15)) { // a pivot this small means X is rank-deficient to working precision
                    ok = false;
                    break;
                }
                double rjj = Math.sqrt(d);
                r[j * k + j] = rjj;
                for (int c = j + 1; c < k; c++) {
                    double v = g[base + j * k + c];
                    for (int t = 0; t < j; t++) {
                        v -= r[t * k + j] * r[t * k + c];
                    }
                    r[j * k + c] = v / rjj;
                }
            }
            if (ok) {
                out[i] = r;
            } else {
                failed[i] = true;
            }
        }
        return out;
    }

    /** The inverses of upper-triangular matrices (identity where missing), flat [count, k, k]. */
    private static double[] flatInverse(double[][] rs, int k) {
        double[] out = new double[rs.length * k * k];
        for (int i = 0; i < rs.length; i++) {
            int base = i * k * k;
            double[] r = rs[i];
            if (r == null) {
                for (int j = 0; j < k; j++) {
                    out[base + j * k + j] = 1;
                }
                continue;
            }
            for (int c = 0; c < k; c++) { // solve R x = e_c by back substitution
                for (int row = c; row >= 0; row--) {
                    double v = row == c ? 1 : 0;
                    for (int t = row + 1; t <= c; t++) {
                        v -= r[row * k + t] * out[base + t * k + c];
                    }
                    out[base + row * k + c] = v / r[row * k + row];
                }
            }
        }
        return out;
    }

    /** Householder QR in Java for the failed matrices (all of them when fast is null). */
    private static ThinQr householder(NDArray x, int count, int m, int k, NDArray fastQ, NDArray fastR, boolean[] failed) {
        int p = Math.min(m, k);
        NDList qs = new NDList();
        NDList rs = new NDList();
        for (int i = 0; i < count; i++) {
            if (fastQ != null && !failed[i]) {
                qs.add(fastQ.get(i));
                rs.add(fastR.get(i));
                continue;
            }
            double[] flat = x.get(i).toDoubleArray();
            double[][] cols = new double[k][m];
            for (int row = 0; row < m; row++) {
                for (int c = 0; c < k; c++) {
                    cols[c][row] = flat[row * k + c];
                }
            }
            DenseLinalg.QR qr = DenseLinalg.qrOfColumns(cols, m);
            double[] q = new double[m * p];
            for (int c = 0; c < p; c++) {
                double[] col = qr.qColumns()[c];
                for (int row = 0; row < m; row++) {
                    q[row * p + c] = col[row];
                }
            }
            double[] r = new double[p * k];
            for (int a = 0; a < p; a++) {
                System.arraycopy(qr.r()[a], 0, r, a * k, k);
            }
            qs.add(Tensors.ofDoubles(q, new Shape(m, p)));
            rs.add(Tensors.ofDoubles(r, new Shape(p, k)));
        }
        if (count == 0) {
            return new ThinQr(Tensors.manager().zeros(new Shape(0, m, p), DataType.FLOAT64),
                    Tensors.manager().zeros(new Shape(0, p, k), DataType.FLOAT64));
        }
        return new ThinQr(NDArrays.stack(qs, 0), NDArrays.stack(rs, 0));
    }
}
