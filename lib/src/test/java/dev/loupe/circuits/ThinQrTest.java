package dev.loupe.circuits;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static dev.loupe.circuits.Dense.matrix;
import static dev.loupe.circuits.Dense.maxAbsDiff;
import static dev.loupe.circuits.Dense.mul;
import static dev.loupe.circuits.Dense.transpose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThinQrTest {

    @Test
    void wellConditionedRankDeficientAndIllConditionedMatricesInOneBatch() {
        Random rng = new Random(4);
        double[][] good = Dense.random(rng, 40, 5);
        double[][] rankTwo = mul(Dense.random(rng, 40, 2), Dense.random(rng, 2, 5));
        // Singular values 1 .. 1e-11: CholeskyQR2 cannot keep this orthogonal; Householder must take over.
        double[][] p = Dense.orthonormalColumns(rng, 40, 5);
        double[][] ill = new double[40][5];
        for (int i = 0; i < 40; i++) {
            for (int c = 0; c < 5; c++) {
                ill[i][c] = p[i][c] * Math.pow(10, -c * 11.0 / 4);
            }
        }
        ill = mul(ill, Dense.orthonormalColumns(rng, 5, 5));
        double[][] zero = new double[40][5];
        double[][][] all = {good, rankTwo, ill, zero};
        ThinQr qr = ThinQr.of(Dense.array(DataType.FLOAT64, all));
        assertEquals(new Shape(4, 40, 5), qr.q.getShape());
        assertEquals(new Shape(4, 5, 5), qr.r.getShape());
        for (int i = 0; i < 4; i++) {
            double[][] q = matrix(qr.q, i);
            double[][] r = matrix(qr.r, i);
            assertTrue(maxAbsDiff(all[i], mul(q, r)) < 1e-13, "Q R = X for matrix " + i);
            assertTrue(maxAbsDiff(Dense.identity(5), mul(transpose(q), q)) < 1e-13, "Q^T Q = I for matrix " + i);
            for (int a = 0; a < 5; a++) {
                for (int b = 0; b < a; b++) {
                    assertEquals(0, r[a][b], 1e-300, "R is upper triangular");
                }
            }
        }
    }

    @Test
    void wideMatricesUseHouseholder() {
        Random rng = new Random(5);
        double[][] wide = Dense.random(rng, 3, 6);
        ThinQr qr = ThinQr.of(Dense.array(DataType.FLOAT64, wide).expandDims(0));
        assertEquals(new Shape(1, 3, 3), qr.q.getShape());
        assertEquals(new Shape(1, 3, 6), qr.r.getShape());
        assertTrue(maxAbsDiff(wide, mul(matrix(qr.q, 0), matrix(qr.r, 0))) < 1e-13);
    }
}
