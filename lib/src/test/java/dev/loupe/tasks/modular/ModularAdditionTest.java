package dev.loupe.tasks.modular;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModularAdditionTest {

    @Test
    void thePapersSplitHas3830TrainingPairsAndLabelsAreSumsModP() {
        ModularAddition task = ModularAddition.paper(0);
        assertEquals(3830, task.trainSize());
        assertEquals(8939, task.testSize());
        long[] tokens = task.trainTokens().toLongArray();
        long[] labels = task.trainLabels().toLongArray();
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < labels.length; i++) {
            assertEquals((tokens[3 * i] + tokens[3 * i + 1]) % 113, labels[i]);
            assertEquals(113, tokens[3 * i + 2], "the = token");
            seen.add(tokens[3 * i] * 113 + tokens[3 * i + 1]);
        }
        assertEquals(3830, seen.size(), "no pair twice");
        long[] testTokens = task.testTokens().toLongArray();
        for (int i = 0; i < task.testSize(); i++) {
            assertTrue(!seen.contains(testTokens[3 * i] * 113 + testTokens[3 * i + 1]), "train and test are disjoint");
        }
        assertArrayEquals(task.trainTokens().toLongArray(), ModularAddition.paper(0).trainTokens().toLongArray(), "seeded");
    }

    @Test
    void thePapersModelHasItsShapes() {
        ModularAddition task = ModularAddition.paper(0);
        HookedTransformer model = HookedTransformer.create(task.modelConfig(DataType.FLOAT64, 1));
        assertEquals(new Shape(114, 128), model.W_E().getShape());
        assertEquals(new Shape(128, 113), model.W_U().getShape());
        assertEquals(new Shape(task.testSize(), 3, 113), model.forward(task.testTokens()).getShape());
    }

    /** The basis is orthonormal, and a pure cosine of frequency 14 lives in frequency 14 alone. */
    @Test
    void theFourierBasisIsOrthonormalAndFindsAPureFrequency() {
        int p = 113;
        NDArray b = Fourier.basis(p);
        NDArray identity = b.matMul(b.transpose());
        double[] v = identity.toDoubleArray();
        for (int i = 0; i < p; i++) {
            for (int j = 0; j < p; j++) {
                assertEquals(i == j ? 1 : 0, v[i * p + j], 1e-12);
            }
        }
        double[] w = new double[p * 2];
        for (int x = 0; x < p; x++) {
            w[2 * x] = 3 * Math.cos(2 * Math.PI * 14 * x / p + 0.7); // any phase: split between cos 14 and sin 14
            w[2 * x + 1] = 0;
        }
        double[] norms = Fourier.frequencyNorms(Tensors.ofDoubles(w, new Shape(p, 2)));
        assertEquals(3 * Math.sqrt(p / 2.0), norms[14], 1e-9);
        for (int k = 0; k < norms.length; k++) {
            if (k != 14) {
                assertEquals(0, norms[k], 1e-9, "frequency " + k);
            }
        }
        assertEquals("sin 56", Fourier.labels(p).get(112));
        assertThrows(IllegalArgumentException.class, () -> Fourier.basis(8));
    }
}
