package dev.loupe.circuits;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.loupe.circuits.Dense.maxAbsDiff;
import static dev.loupe.circuits.Dense.mul;
import static dev.loupe.circuits.Dense.transpose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class DenseLinalgTest {

    private final Random rng = new Random(11);

    /** Eigenvalues of a copy of m, as {re, im} pairs. */
    private static double[][] eig(double[][] m) {
        int n = m.length;
        double[][] copy = new double[n][];
        for (int i = 0; i < n; i++) {
            copy[i] = m[i].clone();
        }
        double[] wr = new double[n];
        double[] wi = new double[n];
        DenseLinalg.eigenvalues(copy, wr, wi);
        double[][] out = new double[n][];
        for (int i = 0; i < n; i++) {
            out[i] = new double[] {wr[i], wi[i]};
        }
        return out;
    }

    /** Every expected eigenvalue is matched by a distinct computed one within tol. */
    private static void assertSameSpectrum(double[][] expected, double[][] actual, double tol) {
        assertEquals(expected.length, actual.length);
        List<double[]> left = new ArrayList<>(List.of(actual));
        for (double[] e : expected) {
            double[] best = null;
            double bestDist = Double.MAX_VALUE;
            for (double[] a : left) {
                double d = Math.hypot(a[0] - e[0], a[1] - e[1]);
                if (d < bestDist) {
                    bestDist = d;
                    best = a;
                }
            }
            if (bestDist > tol) {
                fail("no eigenvalue near " + e[0] + " + " + e[1] + "i (closest " + best[0] + " + " + best[1] + "i)");
            }
            left.remove(best);
        }
    }

    @Test
    void companionMatrixOfKnownRoots() {
        // (x - 1)(x + 2)(x - 3)(x^2 + 1)(x - 0.5) = x^6 + c5 x^5 + ... + c0; companion matrix has these roots.
        double[][] roots = {{1, 0}, {-2, 0}, {3, 0}, {0, 1}, {0, -1}, {0.5, 0}};
        double[] poly = {1}; // coefficients, highest first, of the real polynomial
        poly = times(poly, new double[] {1, -1});
        poly = times(poly, new double[] {1, 2});
        poly = times(poly, new double[] {1, -3});
        poly = times(poly, new double[] {1, 0, 1});
        poly = times(poly, new double[] {1, -0.5});
        int n = poly.length - 1;
        double[][] c = new double[n][n];
        for (int j = 0; j < n; j++) {
            c[0][j] = -poly[j + 1];
        }
        for (int i = 1; i < n; i++) {
            c[i][i - 1] = 1;
        }
        assertSameSpectrum(roots, eig(c), 1e-9);
    }

    private static double[] times(double[] p, double[] q) {
        double[] out = new double[p.length + q.length - 1];
        for (int i = 0; i < p.length; i++) {
            for (int j = 0; j < q.length; j++) {
                out[i + j] += p[i] * q[j];
            }
        }
        return out;
    }

    @Test
    void cyclicPermutationHasTheRootsOfUnity() {
        // A classic case where unshifted or naively shifted QR stalls.
        int n = 7;
        double[][] p = new double[n][n];
        for (int i = 0; i < n; i++) {
            p[(i + 1) % n][i] = 1;
        }
        double[][] expected = new double[n][];
        for (int k = 0; k < n; k++) {
            expected[k] = new double[] {Math.cos(2 * Math.PI * k / n), Math.sin(2 * Math.PI * k / n)};
        }
        assertSameSpectrum(expected, eig(p), 1e-10);
    }

    @Test
    void similarityTransformOfABlockDiagonalMatrix() {
        double[][] d = new double[8][8];
        double[][] expected = {{4, 0}, {-1, 0}, {-1, 0}, {0.25, 0}, {1, 2}, {1, -2}, {-3, 0.5}, {-3, -0.5}};
        d[0][0] = 4;
        d[1][1] = -1;
        d[2][2] = -1;
        d[3][3] = 0.25;
        d[4][4] = 1; d[4][5] = -2; d[5][4] = 2; d[5][5] = 1;
        d[6][6] = -3; d[6][7] = 0.5; d[7][6] = -0.5; d[7][7] = -3;
        double[][] s = Dense.random(rng, 8, 8);
        double[][] m = mul(mul(s, d), Dense.inverse(s));
        assertSameSpectrum(expected, eig(m), 1e-7); // the repeated eigenvalue -1 is sensitive
    }

    @Test
    void largeRandomMatricesMatchTracesOfPowers() {
        for (int n : new int[] {1, 2, 3, 16, 64}) {
            double[][] m = Dense.random(rng, n, n);
            double[][] ev = eig(m);
            double[][] power = Dense.identity(n);
            for (int p = 1; p <= 3; p++) {
                power = mul(power, m);
                double re = 0;
                double im = 0;
                for (double[] e : ev) {
                    double[] z = {1, 0};
                    for (int k = 0; k < p; k++) {
                        z = new double[] {z[0] * e[0] - z[1] * e[1], z[0] * e[1] + z[1] * e[0]};
                    }
                    re += z[0];
                    im += z[1];
                }
                double scale = Math.pow(Math.sqrt(n), p) * n;
                assertEquals(Dense.trace(power), re, 1e-11 * scale, "n " + n + " trace of power " + p);
                assertEquals(0, im, 1e-11 * scale);
            }
        }
    }

    @Test
    void degenerateMatrices() {
        assertSameSpectrum(new double[][] {{0, 0}, {0, 0}, {0, 0}}, eig(new double[3][3]), 0);
        assertSameSpectrum(new double[][] {{1, 0}, {1, 0}, {1, 0}, {1, 0}}, eig(Dense.identity(4)), 1e-15);
        double[][] triangular = {{2, 5, -1}, {0, -3, 7}, {0, 0, 0.5}};
        assertSameSpectrum(new double[][] {{2, 0}, {-3, 0}, {0.5, 0}}, eig(triangular), 1e-14);
        double[][] rank1 = mul(new double[][] {{1}, {2}, {3}, {4}}, new double[][] {{1, 0, 1, 0}}); // eigenvalues 4, 0, 0, 0
        assertSameSpectrum(new double[][] {{4, 0}, {0, 0}, {0, 0}, {0, 0}}, eig(rank1), 1e-7);
    }

    @Test
    void qrOfATallMatrix() {
        double[][] x = Dense.random(rng, 50, 6);
        double[][] cols = transpose(x);
        DenseLinalg.QR qr = DenseLinalg.qrOfColumns(cols, 50);
        double[][] q = transpose(qr.qColumns());
        assertTrue(maxAbsDiff(x, mul(q, qr.r())) < 1e-12, "Q R = X");
        assertTrue(maxAbsDiff(Dense.identity(6), mul(transpose(q), q)) < 1e-13, "Q^T Q = I");
        for (int i = 0; i < 6; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(0, qr.r()[i][j], "R is upper triangular");
            }
        }
    }

    @Test
    void svdOfSmallMatricesOfEveryShape() {
        for (int[] dims : new int[][] {{5, 3}, {3, 5}, {4, 4}, {1, 4}, {4, 1}}) {
            double[][] m = Dense.random(rng, dims[0], dims[1]);
            DenseLinalg.SVD svd = DenseLinalg.svd(m);
            int r = Math.min(dims[0], dims[1]);
            double[][] u = transpose(svd.u());
            double[][] v = transpose(svd.v());
            double[][] us = new double[dims[0]][r];
            for (int i = 0; i < dims[0]; i++) {
                for (int c = 0; c < r; c++) {
                    us[i][c] = u[i][c] * svd.s()[c];
                }
            }
            assertTrue(maxAbsDiff(m, mul(us, transpose(v))) < 1e-13);
            assertTrue(maxAbsDiff(Dense.identity(r), mul(transpose(u), u)) < 1e-13);
            assertTrue(maxAbsDiff(Dense.identity(r), mul(transpose(v), v)) < 1e-13);
            assertEquals(Dense.largestSingularValue(m), svd.s()[0], 1e-12);
        }
    }
}
