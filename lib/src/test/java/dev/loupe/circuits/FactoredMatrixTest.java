package dev.loupe.circuits;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.loupe.circuits.Dense.array;
import static dev.loupe.circuits.Dense.matrix;
import static dev.loupe.circuits.Dense.maxAbsDiff;
import static dev.loupe.circuits.Dense.mul;
import static dev.loupe.circuits.Dense.transpose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FactoredMatrixTest {

    private static final DataType F64 = DataType.FLOAT64;

    /** Three heads' factors A [3, 7, 3], and B [3, 3, 5]. */
    private final Random rng = new Random(7);
    private final double[][][] as = {Dense.random(rng, 7, 3), Dense.random(rng, 7, 3), Dense.random(rng, 7, 3)};
    private final double[][][] bs = {Dense.random(rng, 3, 5), Dense.random(rng, 3, 5), Dense.random(rng, 3, 5)};
    private final FactoredMatrix fm = new FactoredMatrix(array(F64, as), array(F64, bs));

    @Test
    void productsAndTransposeMatchLoops() {
        assertEquals(new Shape(3, 7, 5), fm.shape());
        assertEquals(3, fm.ndim());
        assertEquals(3, fm.mdim());
        for (int h = 0; h < 3; h++) {
            double[][] ab = mul(as[h], bs[h]);
            assertTrue(maxAbsDiff(ab, matrix(fm.AB(), h)) < 1e-12);
            assertTrue(maxAbsDiff(transpose(ab), matrix(fm.T().AB(), h)) < 1e-12);
            assertTrue(maxAbsDiff(mul(as[h], bs[h]), matrix(fm.T().T().AB(), h)) < 1e-12);
        }
        assertEquals(new Shape(3, 5, 7), fm.T().shape());
        IllegalStateException e = assertThrows(IllegalStateException.class, fm::BA);
        assertTrue(e.getMessage().contains("7 x 5"), e.getMessage());
    }

    @Test
    void baOfASquareProductAndBroadcastFactors() {
        double[][] b = Dense.random(rng, 3, 7); // one B for every head: B has no leading dimension
        FactoredMatrix square = new FactoredMatrix(array(F64, as), array(F64, b));
        assertEquals(new Shape(3, 7, 7), square.shape());
        for (int h = 0; h < 3; h++) {
            assertTrue(maxAbsDiff(mul(b, as[h]), matrix(square.BA(), h)) < 1e-12);
            assertTrue(maxAbsDiff(mul(as[h], b), matrix(square.AB(), h)) < 1e-12);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new FactoredMatrix(array(F64, as), array(F64, Dense.random(rng, 4, 7))));
        assertTrue(e.getMessage().contains("inner dimension"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new FactoredMatrix(array(F64, as), array(F64, bs[0], bs[1])));
        assertTrue(e.getMessage().contains("broadcast"), e.getMessage());
    }

    @Test
    void svdReconstructsTheProductWithOrthonormalFactors() {
        FactoredMatrix.Svd svd = fm.svd();
        assertEquals(new Shape(3, 7, 3), svd.U().getShape());
        assertEquals(new Shape(3, 3), svd.S().getShape());
        assertEquals(new Shape(3, 5, 3), svd.Vh().getShape());
        double[] s = svd.S().toDoubleArray();
        for (int h = 0; h < 3; h++) {
            double[][] u = matrix(svd.U(), h);
            double[][] v = matrix(svd.Vh(), h);
            double[][] us = new double[7][3];
            for (int i = 0; i < 7; i++) {
                for (int c = 0; c < 3; c++) {
                    us[i][c] = u[i][c] * s[h * 3 + c];
                }
            }
            double[][] ab = mul(as[h], bs[h]);
            assertTrue(maxAbsDiff(ab, mul(us, transpose(v))) < 1e-12, "U diag(S) Vh^T = AB");
            assertTrue(maxAbsDiff(Dense.identity(3), mul(transpose(u), u)) < 1e-12, "U^T U = I");
            assertTrue(maxAbsDiff(Dense.identity(3), mul(transpose(v), v)) < 1e-12, "V^T V = I");
            assertTrue(s[h * 3] >= s[h * 3 + 1] && s[h * 3 + 1] >= s[h * 3 + 2] && s[h * 3 + 2] >= 0, "descending");
            assertEquals(Dense.largestSingularValue(ab), s[h * 3], 1e-10, "power iteration");
        }
    }

    @Test
    void singularValuesOfAConstructedProduct() {
        // AB = P diag(sigma) R^T with orthonormal P [9, 4] and R [6, 4]: its singular values are sigma exactly.
        double[] sigma = {0.5, 7, 2, 1e-3};
        double[][] p = Dense.orthonormalColumns(rng, 9, 4);
        double[][] r = Dense.orthonormalColumns(rng, 6, 4);
        double[][] a = new double[9][4];
        for (int i = 0; i < 9; i++) {
            for (int c = 0; c < 4; c++) {
                a[i][c] = p[i][c] * sigma[c];
            }
        }
        // Mix the factors with an invertible matrix so that neither is orthogonal: A G, G^-1 R^T.
        double[][] g = Dense.random(rng, 4, 4);
        FactoredMatrix m = new FactoredMatrix(array(F64, mul(a, g)), array(F64, mul(Dense.inverse(g), transpose(r))));
        double[] s = m.S().toDoubleArray();
        double[] expected = {7, 2, 0.5, 1e-3};
        for (int i = 0; i < 4; i++) {
            assertEquals(expected[i], s[i], 1e-11 * 7, "singular value " + i);
        }
        assertEquals(Math.sqrt(49 + 4 + 0.25 + 1e-6), m.norm().getDouble(), 1e-11);
    }

    @Test
    void rankDeficientAndWideInnerDimensions() {
        // Inner dimension 4 but rank 2: the extra singular values are zero and U, V stay orthonormal.
        double[][] left = Dense.random(rng, 8, 2);
        double[][] a = mul(left, Dense.random(rng, 2, 4));
        double[][] b = Dense.random(rng, 4, 6);
        FactoredMatrix m = new FactoredMatrix(array(F64, a), array(F64, b));
        FactoredMatrix.Svd svd = m.svd();
        double[] s = svd.S().toDoubleArray();
        assertEquals(4, s.length);
        assertTrue(s[2] < 1e-12 * s[0] && s[3] < 1e-12 * s[0], Arrays.toString(s));
        double[][] u = matrix(svd.U(), 0);
        double[][] v = matrix(svd.Vh(), 0);
        assertTrue(maxAbsDiff(Dense.identity(4), mul(transpose(u), u)) < 1e-12);
        assertTrue(maxAbsDiff(Dense.identity(4), mul(transpose(v), v)) < 1e-12);

        // Inner dimension larger than the matrix: r = min(m, k, n) = 3.
        double[][] a2 = Dense.random(rng, 3, 5);
        double[][] b2 = Dense.random(rng, 5, 4);
        FactoredMatrix wide = new FactoredMatrix(array(F64, a2), array(F64, b2));
        FactoredMatrix.Svd w = wide.svd();
        assertEquals(new Shape(3, 3), w.U().getShape());
        assertEquals(new Shape(3), w.S().getShape());
        assertEquals(new Shape(4, 3), w.Vh().getShape());
        double[][] us = mul(matrix(w.U(), 0), diag(w.S().toDoubleArray()));
        assertTrue(maxAbsDiff(mul(a2, b2), mul(us, transpose(matrix(w.Vh(), 0)))) < 1e-12);

        // All zero: singular values zero, factors still orthonormal.
        FactoredMatrix zero = new FactoredMatrix(array(F64, new double[5][2]), array(F64, new double[2][3]));
        assertEquals(0, zero.S().abs().max().getDouble());
        double[][] zu = matrix(zero.U(), 0);
        assertTrue(maxAbsDiff(Dense.identity(2), mul(transpose(zu), zu)) < 1e-12);
    }

    @Test
    void normCollapseAndMakeEven() {
        double[] norms = fm.norm().toDoubleArray();
        for (int h = 0; h < 3; h++) {
            double[][] ab = mul(as[h], bs[h]);
            assertEquals(Dense.frobenius(ab), norms[h], 1e-12);
            // U collapseL = AB and collapseR Vh^T = AB.
            assertTrue(maxAbsDiff(ab, mul(matrix(fm.U(), h), matrix(fm.collapseL(), h))) < 1e-12);
            assertTrue(maxAbsDiff(ab, mul(matrix(fm.collapseR(), h), transpose(matrix(fm.Vh(), h)))) < 1e-12);
            FactoredMatrix even = fm.makeEven();
            assertTrue(maxAbsDiff(ab, matrix(even.AB(), h)) < 1e-12);
            // Both halves carry sqrt(S): A^T A = B B^T = diag(S).
            double[][] ea = matrix(even.A(), h);
            double[][] eb = matrix(even.B(), h);
            assertTrue(maxAbsDiff(mul(transpose(ea), ea), mul(eb, transpose(eb))) < 1e-12);
        }
        assertEquals(new Shape(3, 3, 5), fm.collapseL().getShape());
        assertEquals(new Shape(3, 7, 3), fm.collapseR().getShape());
    }

    @Test
    void eigenvaluesOfAProductWithKnownSpectrum() {
        // BA = M = S D S^-1 with D holding 3, -2 and the pair 0.5 ± 1.5i; A = X [10, 4], B = M Y with Y X = I.
        double[][] d = {{3, 0, 0, 0}, {0, -2, 0, 0}, {0, 0, 0.5, -1.5}, {0, 0, 1.5, 0.5}};
        double[][] s = Dense.random(rng, 4, 4);
        double[][] m = mul(mul(s, d), Dense.inverse(s));
        double[][] x = Dense.random(rng, 10, 4);
        double[][] y = mul(Dense.inverse(mul(transpose(x), x)), transpose(x)); // the pseudo-inverse: Y X = I
        FactoredMatrix fmx = new FactoredMatrix(array(F64, x), array(F64, mul(m, y)));
        FactoredMatrix.Eigenvalues eig = fmx.eigenvalues();
        assertEquals(new Shape(4), eig.real().getShape());
        double[] re = eig.real().toDoubleArray();
        double[] im = eig.imag().toDoubleArray();
        // Sorted by modulus: 3, -2, then 0.5 ± 1.5i (|.| = 1.58), positive imaginary part first.
        double[][] expected = {{3, 0}, {-2, 0}, {0.5, 1.5}, {0.5, -1.5}};
        for (int i = 0; i < 4; i++) {
            assertEquals(expected[i][0], re[i], 1e-9, "real part " + i);
            assertEquals(expected[i][1], im[i], 1e-9, "imaginary part " + i);
        }
        assertEquals(Math.hypot(0.5, 1.5), eig.abs().toDoubleArray()[2], 1e-9);
    }

    @Test
    void eigenvaluesAgreeWithTracesOfTheMaterialisedProduct() {
        // For each head: sum of eigenvalues = tr(AB), sum of squares = tr((AB)^2), sum of cubes = tr((AB)^3).
        double[][] b = Dense.random(rng, 3, 7);
        FactoredMatrix square = new FactoredMatrix(array(F64, as), array(F64, b));
        FactoredMatrix.Eigenvalues eig = square.eigenvalues();
        double[] re = eig.real().toDoubleArray();
        double[] im = eig.imag().toDoubleArray();
        for (int h = 0; h < 3; h++) {
            double[][] ab = mul(as[h], b);
            double[][] ab2 = mul(ab, ab);
            double[] sums = new double[4]; // Re and Im of sum λ^p for p = 1..3 (Re), and Im of sum λ
            for (int i = 0; i < 3; i++) {
                double r = re[h * 3 + i];
                double c = im[h * 3 + i];
                sums[0] += r;
                sums[1] += r * r - c * c;
                sums[2] += r * r * r - 3 * r * c * c;
                sums[3] += c;
            }
            assertEquals(Dense.trace(ab), sums[0], 1e-10);
            assertEquals(Dense.trace(ab2), sums[1], 1e-9);
            assertEquals(Dense.trace(mul(ab2, ab)), sums[2], 1e-8);
            assertEquals(0, sums[3], 1e-10);
        }
    }

    @Test
    void cornerAndProductsWithMatrices() {
        for (int h = 0; h < 3; h++) {
            double[][] ab = mul(as[h], bs[h]);
            double[][] corner = matrix(fm.getCorner(2), h);
            assertTrue(maxAbsDiff(new double[][] {{ab[0][0], ab[0][1]}, {ab[1][0], ab[1][1]}}, corner) < 1e-12);
        }
        assertEquals(new Shape(3, 3, 3), fm.getCorner().getShape());
        assertEquals(new Shape(3, 7, 5), fm.getCorner(100).getShape());

        double[][] right = Dense.random(rng, 5, 4);
        double[][] left = Dense.random(rng, 2, 7);
        FactoredMatrix r = fm.matMul(array(F64, right));  // n = 5 > k = 3: B absorbs it
        FactoredMatrix l = fm.leftMatMul(array(F64, left)); // m = 7 > k = 3: A absorbs it
        assertEquals(3, r.mdim());
        assertEquals(3, l.mdim());
        FactoredMatrix both = fm.matMul(new FactoredMatrix(array(F64, Dense.random(rng, 5, 1)), array(F64, Dense.random(rng, 1, 2))));
        assertEquals(new Shape(3, 7, 2), both.shape());
        for (int h = 0; h < 3; h++) {
            double[][] ab = mul(as[h], bs[h]);
            assertTrue(maxAbsDiff(mul(ab, right), matrix(r.AB(), h)) < 1e-12);
            assertTrue(maxAbsDiff(mul(left, ab), matrix(l.AB(), h)) < 1e-12);
        }
        // Small outer dimension: the product is folded into one factor, the other is the multiplier.
        FactoredMatrix thin = new FactoredMatrix(array(F64, Dense.random(rng, 2, 4)), array(F64, Dense.random(rng, 4, 2)));
        assertEquals(2, thin.matMul(array(F64, Dense.random(rng, 2, 6))).mdim());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> fm.matMul(array(F64, right, right)).AB());
        assertTrue(e.getMessage().contains("broadcast"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> fm.matMul(array(F64, left)));
        assertTrue(e.getMessage().contains("must be 5"), e.getMessage());
    }

    @Test
    void vectorsScalarsAndIndexing() {
        double[] v = {1, -2, 0.5, 3, 1};
        NDArray out = fm.matVec(dev.loupe.tensor.Tensors.ofDoubles(v, new Shape(5)));
        assertEquals(new Shape(3, 7), out.getShape());
        double[][] col = transpose(new double[][] {v});
        for (int h = 0; h < 3; h++) {
            double[][] expected = mul(mul(as[h], bs[h]), col);
            double[] got = out.get(h).toDoubleArray();
            for (int i = 0; i < 7; i++) {
                assertEquals(expected[i][0], got[i], 1e-12);
            }
        }
        FactoredMatrix head1 = fm.get(1);
        assertEquals(new Shape(7, 5), head1.shape());
        assertTrue(maxAbsDiff(mul(as[1], bs[1]), matrix(head1.AB(), 0)) < 1e-12);
        assertTrue(maxAbsDiff(mul(as[1], bs[1]), matrix(fm.unsqueeze(0).get(0, 1).AB(), 0)) < 1e-12);
        assertEquals(2 * fm.norm().getDouble(0), fm.times(-2).norm().getDouble(0), 1e-12);
        assertThrows(IndexOutOfBoundsException.class, () -> fm.get(3));
        assertThrows(IllegalArgumentException.class, () -> fm.get(0, 0));
    }

    @Test
    void float32FactorsGiveFloat32Results() {
        FactoredMatrix f32 = fm.toType(DataType.FLOAT32);
        assertEquals(DataType.FLOAT32, f32.S().getDataType());
        assertEquals(DataType.FLOAT32, f32.norm().getDataType());
        assertEquals(DataType.FLOAT32, f32.U().getDataType());
        double[] s64 = fm.S().toDoubleArray();
        float[] s32 = f32.S().toFloatArray();
        for (int i = 0; i < s64.length; i++) {
            assertEquals(s64[i], s32[i], 1e-5 * s64[0]);
        }
    }

    private static double[][] diag(double[] s) {
        double[][] d = new double[s.length][s.length];
        for (int i = 0; i < s.length; i++) {
            d[i][i] = s[i];
        }
        return d;
    }
}
