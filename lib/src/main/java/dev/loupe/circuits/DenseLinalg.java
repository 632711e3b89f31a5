package dev.loupe.circuits;

import java.util.Arrays;

/**
 * The few dense linear-algebra routines DJL 0.35's PyTorch engine does not expose (it has {@code inverse}, but no
 * QR, SVD or eigenvalues), in float64 on Java arrays. They are only ever applied to the small side of a factored
 * matrix (the inner dimension is d_head), or to a tall-and-thin factor, so plain loops are fast enough.
 *
 * <p>Matrices are {@code double[rows][cols]} unless a method says it works on columns.
 */
final class DenseLinalg {

    private static final double EPS = Math.ulp(1.0); // 2^-52

    private DenseLinalg() {}

    // ---------------------------------------------------------------- thin QR (Householder)

    /** X = Q R with Q [m, p] having orthonormal columns and R [p, k] upper triangular, p = min(m, k). */
    record QR(double[][] qColumns, double[][] r) {}

    /**
     * Householder QR of X [m, k], given by its k columns (each of length m; they are overwritten). Q is returned
     * as p columns of length m, always orthonormal, also when X is rank-deficient.
     */
    static QR qrOfColumns(double[][] cols, int m) {
        int k = cols.length;
        int p = Math.min(m, k);
        double[][] v = new double[p][];   // reflector j acts on rows j..m-1: H_j = I - tau_j v_j v_j^T
        double[] tau = new double[p];
        for (int j = 0; j < p; j++) {
            double[] x = cols[j];
            double norm = 0;
            for (int i = j; i < m; i++) {
                norm = Math.hypot(norm, x[i]);
            }
            if (norm == 0) {
                continue; // nothing to annihilate: H_j = I
            }
            double alpha = x[j] >= 0 ? -norm : norm; // the sign that avoids cancellation in v[0]
            double[] vj = new double[m - j];
            for (int i = j; i < m; i++) {
                vj[i - j] = x[i];
            }
            vj[0] -= alpha;
            double vv = norm * (norm + Math.abs(x[j])) * 2; // v.v, in closed form
            v[j] = vj;
            tau[j] = 2 / vv;
            x[j] = alpha;
            Arrays.fill(x, j + 1, m, 0);
            for (int c = j + 1; c < k; c++) {
                double[] y = cols[c];
                double dot = 0;
                for (int i = j; i < m; i++) {
                    dot += vj[i - j] * y[i];
                }
                double f = tau[j] * dot;
                for (int i = j; i < m; i++) {
                    y[i] -= f * vj[i - j];
                }
            }
        }
        double[][] r = new double[p][k];
        for (int c = 0; c < k; c++) {
            for (int i = 0; i <= Math.min(c, p - 1); i++) {
                r[i][c] = cols[c][i];
            }
        }
        // Q = H_0 H_1 ... H_{p-1} applied to the first p unit vectors, last reflector first.
        double[][] q = new double[p][m];
        for (int c = 0; c < p; c++) {
            double[] y = q[c];
            y[c] = 1;
            for (int j = Math.min(c, p - 1); j >= 0; j--) { // H_j leaves e_c alone for j > c
                if (v[j] == null) {
                    continue;
                }
                double[] vj = v[j];
                double dot = 0;
                for (int i = j; i < m; i++) {
                    dot += vj[i - j] * y[i];
                }
                if (dot == 0) {
                    continue;
                }
                double f = tau[j] * dot;
                for (int i = j; i < m; i++) {
                    y[i] -= f * vj[i - j];
                }
            }
        }
        return new QR(q, r);
    }

    // ---------------------------------------------------------------- SVD (one-sided Jacobi)

    /**
     * M = U diag(s) V^T for M [p, q], r = min(p, q): U [p, r] and V [q, r] with orthonormal columns, s descending
     * and non-negative. Returned as columns: {@code u[c]} is U's column c, {@code v[c]} is V's.
     */
    record SVD(double[][] u, double[] s, double[][] v) {}

    /** One-sided (Hestenes) Jacobi: rotates M's columns until they are mutually orthogonal. */
    static SVD svd(double[][] m) {
        int p = m.length;
        int q = p == 0 ? 0 : m[0].length;
        if (q > p) { // rotate the fewer columns: M^T = V S U^T
            double[][] t = new double[q][p];
            for (int i = 0; i < p; i++) {
                for (int j = 0; j < q; j++) {
                    t[j][i] = m[i][j];
                }
            }
            SVD st = svd(t);
            return new SVD(st.v(), st.s(), st.u());
        }
        int r = q;
        double frob2 = 0;
        for (double[] row : m) {
            for (double x : row) {
                frob2 += x * x;
            }
        }
        // Columns this small are zero to working precision; rotating them only stirs rounding noise.
        double negligible = frob2 * EPS * EPS;
        double[][] w = new double[q][p]; // the columns of M V, rotated in place
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < q; j++) {
                w[j][i] = m[i][j];
            }
        }
        double[][] vc = new double[q][q]; // columns of V
        for (int j = 0; j < q; j++) {
            vc[j][j] = 1;
        }
        boolean rotated = true;
        for (int sweep = 0; rotated; sweep++) {
            if (sweep > 80) {
                throw new ArithmeticException("Jacobi SVD did not converge in 80 sweeps (" + p + " x " + q
                        + " matrix); it may contain NaN or infinity.");
            }
            rotated = false;
            for (int i = 0; i < q - 1; i++) {
                for (int j = i + 1; j < q; j++) {
                    double alpha = dot(w[i], w[i]);
                    double beta = dot(w[j], w[j]);
                    double gamma = dot(w[i], w[j]);
                    if (gamma == 0 || alpha <= negligible || beta <= negligible
                            || Math.abs(gamma) <= EPS * Math.sqrt(alpha * beta)) {
                        continue;
                    }
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.abs(zeta) > 1e150 ? 1 / (2 * zeta)
                            : Math.copySign(1, zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    double c = 1 / Math.sqrt(1 + t * t);
                    double s = c * t;
                    rotate(w[i], w[j], c, s);
                    rotate(vc[i], vc[j], c, s);
                }
            }
        }
        double[] norms = new double[q];
        Integer[] order = new Integer[q];
        for (int j = 0; j < q; j++) {
            norms[j] = Math.sqrt(dot(w[j], w[j]));
            order[j] = j;
        }
        Arrays.sort(order, (a, b) -> Double.compare(norms[b], norms[a]));
        double[] s = new double[r];
        double[][] u = new double[r][];
        double[][] v = new double[r][];
        for (int c = 0; c < r; c++) {
            int j = order[c];
            s[c] = norms[j];
            v[c] = vc[j];
            if (norms[j] * norms[j] > negligible) { // else a zero column: its U column is completed below
                u[c] = new double[p];
                for (int i = 0; i < p; i++) {
                    u[c][i] = w[j][i] / norms[j];
                }
            }
        }
        completeOrthonormal(u, p);
        return new SVD(u, s, v);
    }

    private static void rotate(double[] x, double[] y, double c, double s) {
        for (int i = 0; i < x.length; i++) {
            double xi = x[i];
            double yi = y[i];
            x[i] = c * xi - s * yi;
            y[i] = s * xi + c * yi;
        }
    }

    /** Fills the null columns (zero singular values) with unit vectors orthogonal to all the others. */
    private static void completeOrthonormal(double[][] cols, int n) {
        for (int c = 0; c < cols.length; c++) {
            if (cols[c] != null) {
                continue;
            }
            double[] best = null;
            double bestNorm = -1;
            for (int e = 0; e < n; e++) { // the unit vector that keeps most after projecting out the others
                double[] x = new double[n];
                x[e] = 1;
                for (int pass = 0; pass < 2; pass++) {
                    for (double[] other : cols) {
                        if (other != null) {
                            double d = dot(other, x);
                            for (int i = 0; i < n; i++) {
                                x[i] -= d * other[i];
                            }
                        }
                    }
                }
                double norm = Math.sqrt(dot(x, x));
                if (norm > bestNorm) {
                    bestNorm = norm;
                    best = x;
                }
                if (norm > 0.5) {
                    break;
                }
            }
            for (int i = 0; i < n; i++) {
                best[i] /= bestNorm;
            }
            cols[c] = best;
        }
    }

    static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    // ---------------------------------------------------------------- eigenvalues (Hessenberg + Francis QR)

    /**
     * The eigenvalues of a real square matrix (overwritten), as real and imaginary parts; complex ones come in
     * conjugate pairs. Reduction to upper Hessenberg form by Householder similarities, then implicitly
     * double-shifted QR steps (Francis) with deflation at negligible subdiagonal entries.
     */
    static void eigenvalues(double[][] a, double[] wr, double[] wi) {
        int n = a.length;
        hessenberg(a);
        double norm = 0;
        for (int i = 0; i < n; i++) {
            for (int j = Math.max(0, i - 1); j < n; j++) {
                norm += Math.abs(a[i][j]);
            }
        }
        int hi = n - 1;
        int iterations = 0;
        int total = 0;
        while (hi >= 0) {
            int l = hi;
            while (l > 0) {
                double scale = Math.abs(a[l - 1][l - 1]) + Math.abs(a[l][l]);
                if (scale == 0) {
                    scale = norm;
                }
                if (Math.abs(a[l][l - 1]) <= EPS * scale) {
                    a[l][l - 1] = 0;
                    break;
                }
                l--;
            }
            if (l == hi) {
                wr[hi] = a[hi][hi];
                wi[hi] = 0;
                hi--;
                iterations = 0;
            } else if (l == hi - 1) {
                twoByTwo(a[hi - 1][hi - 1], a[hi - 1][hi], a[hi][hi - 1], a[hi][hi], wr, wi, hi - 1);
                hi -= 2;
                iterations = 0;
            } else {
                if (++total > 100 * n) {
                    throw new ArithmeticException("The QR algorithm did not converge for a " + n + " x " + n
                            + " matrix; it may contain NaN or infinity.");
                }
                iterations++;
                double s;
                double t;
                if (iterations % 10 == 0) { // an exceptional shift breaks a cycle
                    double w = Math.abs(a[hi][hi - 1]) + Math.abs(a[hi - 1][hi - 2]);
                    s = 1.5 * w;
                    t = w * w;
                } else { // the two eigenvalues of the trailing 2x2 block, as their sum and product
                    s = a[hi - 1][hi - 1] + a[hi][hi];
                    t = a[hi - 1][hi - 1] * a[hi][hi] - a[hi - 1][hi] * a[hi][hi - 1];
                }
                francisStep(a, l, hi, s, t);
            }
        }
    }

    /** Eigenvalues of [[a, b], [c, d]] into positions i and i+1. */
    private static void twoByTwo(double a, double b, double c, double d, double[] wr, double[] wi, int i) {
        double p = 0.5 * (a - d);
        double q = p * p + b * c;
        if (q >= 0) {
            double z = p + Math.copySign(Math.sqrt(q), p);
            wr[i] = d + z;
            wr[i + 1] = z != 0 ? d - b * c / z : d;
            wi[i] = 0;
            wi[i + 1] = 0;
        } else {
            double im = Math.sqrt(-q);
            wr[i] = d + p;
            wr[i + 1] = d + p;
            wi[i] = im;
            wi[i + 1] = -im;
        }
    }

    /** Householder reduction to upper Hessenberg form, in place (a similarity, so eigenvalues are kept). */
    static void hessenberg(double[][] a) {
        int n = a.length;
        for (int k = 0; k < n - 2; k++) {
            double norm = 0;
            for (int i = k + 1; i < n; i++) {
                norm = Math.hypot(norm, a[i][k]);
            }
            if (norm == 0) {
                continue;
            }
            double x0 = a[k + 1][k];
            double alpha = x0 >= 0 ? -norm : norm;
            double[] v = new double[n - k - 1];
            for (int i = k + 1; i < n; i++) {
                v[i - k - 1] = a[i][k];
            }
            v[0] -= alpha;
            double tau = 2 / (2 * norm * (norm + Math.abs(x0)));
            for (int j = k; j < n; j++) { // from the left: rows k+1..n-1
                double d = 0;
                for (int i = k + 1; i < n; i++) {
                    d += v[i - k - 1] * a[i][j];
                }
                d *= tau;
                for (int i = k + 1; i < n; i++) {
                    a[i][j] -= d * v[i - k - 1];
                }
            }
            for (int i = 0; i < n; i++) { // from the right: columns k+1..n-1
                double d = 0;
                for (int j = k + 1; j < n; j++) {
                    d += a[i][j] * v[j - k - 1];
                }
                d *= tau;
                for (int j = k + 1; j < n; j++) {
                    a[i][j] -= d * v[j - k - 1];
                }
            }
            a[k + 1][k] = alpha;
            for (int i = k + 2; i < n; i++) {
                a[i][k] = 0;
            }
        }
    }

    /**
     * One implicit double-shift QR step on the unreduced Hessenberg block a[l..hi, l..hi], shifts being the roots
     * of x^2 - s x + t. Only the block is transformed: its eigenvalues are all that is needed from it.
     */
    private static void francisStep(double[][] a, int l, int hi, double s, double t) {
        // First column of (H - k1 I)(H - k2 I) = H^2 - s H + t I; only three entries are nonzero.
        double x = a[l][l] * a[l][l] + a[l][l + 1] * a[l + 1][l] - s * a[l][l] + t;
        double y = a[l + 1][l] * (a[l][l] + a[l + 1][l + 1] - s);
        double z = a[l + 1][l] * a[l + 2][l + 1];
        double[] v = new double[3];
        for (int k = l; k <= hi - 2; k++) {
            double tau = reflector(x, y, z, v);
            if (tau != 0) {
                for (int j = Math.max(l, k - 1); j <= hi; j++) {
                    double d = tau * (v[0] * a[k][j] + v[1] * a[k + 1][j] + v[2] * a[k + 2][j]);
                    a[k][j] -= d * v[0];
                    a[k + 1][j] -= d * v[1];
                    a[k + 2][j] -= d * v[2];
                }
                for (int i = l; i <= Math.min(k + 3, hi); i++) {
                    double d = tau * (a[i][k] * v[0] + a[i][k + 1] * v[1] + a[i][k + 2] * v[2]);
                    a[i][k] -= d * v[0];
                    a[i][k + 1] -= d * v[1];
                    a[i][k + 2] -= d * v[2];
                }
                if (k > l) { // the bulge below the subdiagonal has been chased on
                    a[k + 1][k - 1] = 0;
                    a[k + 2][k - 1] = 0;
                }
            }
            x = a[k + 1][k];
            y = a[k + 2][k];
            if (k < hi - 2) {
                z = a[k + 3][k];
            }
        }
        double tau = reflector(x, y, 0, v);
        if (tau != 0) {
            int k = hi - 1;
            for (int j = Math.max(l, k - 1); j <= hi; j++) {
                double d = tau * (v[0] * a[k][j] + v[1] * a[k + 1][j]);
                a[k][j] -= d * v[0];
                a[k + 1][j] -= d * v[1];
            }
            for (int i = l; i <= hi; i++) {
                double d = tau * (a[i][k] * v[0] + a[i][k + 1] * v[1]);
                a[i][k] -= d * v[0];
                a[i][k + 1] -= d * v[1];
            }
            if (k > l) {
                a[k + 1][k - 1] = 0;
            }
        }
    }

    /** v and tau with (I - tau v v^T) [x, y, z] = [*, 0, 0]; tau = 0 when there is nothing to do. */
    private static double reflector(double x, double y, double z, double[] v) {
        double norm = Math.sqrt(x * x + y * y + z * z);
        if (norm == 0 || (y == 0 && z == 0)) {
            return 0;
        }
        double alpha = x >= 0 ? -norm : norm;
        v[0] = x - alpha;
        v[1] = y;
        v[2] = z;
        return 2 / (v[0] * v[0] + y * y + z * z);
    }
}
