package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import java.util.Random;

/** Plain-loop float64 matrix arithmetic: the independent reference the circuits tests compare against. */
final class Dense {

    private Dense() {}

    static double[][] random(Random rng, int rows, int cols) {
        double[][] m = new double[rows][cols];
        for (double[] row : m) {
            for (int j = 0; j < cols; j++) {
                row[j] = rng.nextGaussian();
            }
        }
        return m;
    }

    static double[][] mul(double[][] x, double[][] y) {
        int n = x.length;
        int k = y.length;
        int m = y[0].length;
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < k; t++) {
                double v = x[i][t];
                for (int j = 0; j < m; j++) {
                    out[i][j] += v * y[t][j];
                }
            }
        }
        return out;
    }

    static double[][] transpose(double[][] x) {
        double[][] out = new double[x[0].length][x.length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[0].length; j++) {
                out[j][i] = x[i][j];
            }
        }
        return out;
    }

    static double frobenius(double[][] x) {
        double s = 0;
        for (double[] row : x) {
            for (double v : row) {
                s += v * v;
            }
        }
        return Math.sqrt(s);
    }

    static double trace(double[][] x) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i][i];
        }
        return s;
    }

    static double[][] identity(int n) {
        double[][] out = new double[n][n];
        for (int i = 0; i < n; i++) {
            out[i][i] = 1;
        }
        return out;
    }

    /** Gauss–Jordan elimination with partial pivoting. */
    static double[][] inverse(double[][] x) {
        int n = x.length;
        double[][] a = new double[n][2 * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(x[i], 0, a[i], 0, n);
            a[i][n + i] = 1;
        }
        for (int c = 0; c < n; c++) {
            int pivot = c;
            for (int r = c + 1; r < n; r++) {
                if (Math.abs(a[r][c]) > Math.abs(a[pivot][c])) {
                    pivot = r;
                }
            }
            double[] tmp = a[c];
            a[c] = a[pivot];
            a[pivot] = tmp;
            double d = a[c][c];
            for (int j = 0; j < 2 * n; j++) {
                a[c][j] /= d;
            }
            for (int r = 0; r < n; r++) {
                if (r != c && a[r][c] != 0) {
                    double f = a[r][c];
                    for (int j = 0; j < 2 * n; j++) {
                        a[r][j] -= f * a[c][j];
                    }
                }
            }
        }
        double[][] out = new double[n][n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], n, out[i], 0, n);
        }
        return out;
    }

    /** k orthonormal columns in R^n (Gram–Schmidt twice on random vectors), as an n x k matrix. */
    static double[][] orthonormalColumns(Random rng, int n, int k) {
        double[][] cols = new double[k][];
        for (int c = 0; c < k; c++) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = rng.nextGaussian();
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int p = 0; p < c; p++) {
                    double d = 0;
                    for (int i = 0; i < n; i++) {
                        d += cols[p][i] * v[i];
                    }
                    for (int i = 0; i < n; i++) {
                        v[i] -= d * cols[p][i];
                    }
                }
            }
            double norm = 0;
            for (double x : v) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                v[i] /= norm;
            }
            cols[c] = v;
        }
        return transpose(cols);
    }

    /** The largest singular value by power iteration on X^T X. */
    static double largestSingularValue(double[][] x) {
        double[][] gram = mul(transpose(x), x);
        int n = gram.length;
        double[] v = new double[n];
        java.util.Arrays.fill(v, 1);
        double lambda = 0;
        for (int it = 0; it < 5000; it++) {
            double[] w = new double[n];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    w[i] += gram[i][j] * v[j];
                }
            }
            double norm = 0;
            for (double z : w) {
                norm += z * z;
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                v[i] = w[i] / norm;
            }
            if (Math.abs(norm - lambda) <= 1e-15 * norm) {
                break;
            }
            lambda = norm;
        }
        return Math.sqrt(lambda);
    }

    // ---------------------------------------------------------------- NDArray conversion

    static NDArray array(DataType type, double[][]... matrices) {
        int rows = matrices[0].length;
        int cols = matrices[0][0].length;
        double[] flat = new double[matrices.length * rows * cols];
        int at = 0;
        for (double[][] m : matrices) {
            for (double[] row : m) {
                System.arraycopy(row, 0, flat, at, cols);
                at += cols;
            }
        }
        Shape shape = matrices.length == 1 ? new Shape(rows, cols) : new Shape(matrices.length, rows, cols);
        NDArray a = Tensors.ofDoubles(flat, shape);
        return type == DataType.FLOAT64 ? a : a.toType(type, false);
    }

    /** Matrix i of an array [..., rows, cols] flattened over its leading dimensions. */
    static double[][] matrix(NDArray x, int i) {
        Shape s = x.getShape();
        int rows = (int) s.get(s.dimension() - 2);
        int cols = (int) s.get(s.dimension() - 1);
        double[] flat = x.toType(DataType.FLOAT64, false).toDoubleArray();
        double[][] out = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, i * rows * cols + r * cols, out[r], 0, cols);
        }
        return out;
    }

    static double maxAbsDiff(double[][] x, double[][] y) {
        if (x.length != y.length || x[0].length != y[0].length) {
            throw new AssertionError("shapes differ: " + x.length + "x" + x[0].length + " vs " + y.length + "x" + y[0].length);
        }
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[0].length; j++) {
                worst = Math.max(worst, Math.abs(x[i][j] - y[i][j]));
            }
        }
        return worst;
    }
}
