package dev.loupe.sae;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Each architecture's loss and gradient in float64: the autograd gradient of every weight against central finite
 * differences of the loss, and JumpReLU's threshold gradient against the pseudo-derivatives of Rajamanoharan et al.
 * (2024), written out here from their formulas. Values of the losses against the arithmetic spelled out by hand.
 */
class SaeTrainLossesTest {

    static final int D_IN = 5;
    static final int D_SAE = 7;
    static final int BATCH = 6;
    static final double H = 1e-6;

    private static Map<String, double[]> randomParams(SaeConfig cfg, long seed) {
        Random r = new Random(seed);
        Map<String, double[]> p = new LinkedHashMap<>();
        Sae.parameterShapes(cfg).forEach((name, shape) -> {
            if (!name.equals("threshold")) {
                p.put(name, gaussian(r, (int) shape.size(), 0.6));
            }
        });
        if (cfg.architecture() == SaeConfig.Architecture.JUMPRELU) {
            double[] logThreshold = new double[D_SAE];
            for (int i = 0; i < D_SAE; i++) {
                logThreshold[i] = Math.log(0.2 + 0.1 * r.nextDouble());
            }
            p.put("log_threshold", logThreshold);
        }
        return p;
    }

    private static double[] gaussian(Random r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = scale * r.nextGaussian();
        }
        return v;
    }

    private static Map<String, NDArray> arrays(SaeConfig cfg, Map<String, double[]> p) {
        Map<String, Shape> shapes = new LinkedHashMap<>(Sae.parameterShapes(cfg));
        shapes.put("log_threshold", new Shape(D_SAE));
        Map<String, NDArray> a = new LinkedHashMap<>();
        p.forEach((name, v) -> a.put(name, Tensors.ofDoubles(v, shapes.get(name))));
        return a;
    }

    /**
     * The loss, with AuxK's residual held at its value for the unperturbed weights ({@code frozen}): SAELens detaches
     * it, so its gradient is that of the loss with the residual a constant.
     */
    private static double loss(SaeConfig cfg, Map<String, double[]> p, NDArray x, SaeLosses.Terms terms, NDArray frozen) {
        if (frozen == null || terms.dead() == null) {
            return SaeLosses.compute(cfg, arrays(cfg, p), x, x, terms).total().getDouble();
        }
        Map<String, NDArray> a = arrays(cfg, p);
        SaeLosses.Terms none = new SaeLosses.Terms(terms.sparsity(), terms.bandwidth(), terms.auxCoefficient(), null,
                terms.batchK());
        return SaeLosses.compute(cfg, a, x, x, none).total().getDouble()
                + SaeLosses.auxK(cfg, a, x, frozen, terms).getDouble();
    }

    private static double loss(SaeConfig cfg, Map<String, double[]> p, NDArray x, SaeLosses.Terms terms) {
        return loss(cfg, p, x, terms, null);
    }

    private static Map<String, double[]> autograd(SaeConfig cfg, Map<String, double[]> p, NDArray x, SaeLosses.Terms terms) {
        Map<String, NDArray> a = arrays(cfg, p);
        a.values().forEach(v -> v.setRequiresGradient(true));
        try (GradientCollector c = Engine.getInstance().newGradientCollector()) {
            c.backward(SaeLosses.compute(cfg, a, x, x, terms).total());
        }
        Map<String, double[]> g = new LinkedHashMap<>();
        a.forEach((name, v) -> g.put(name, v.getGradient().toDoubleArray()));
        return g;
    }

    private static void checkAgainstFiniteDifferences(SaeConfig cfg, SaeLosses.Terms terms, boolean thresholdToo) {
        Map<String, double[]> p = randomParams(cfg, 11);
        NDArray x = Tensors.ofDoubles(gaussian(new Random(5), BATCH * D_IN, 1.0), new Shape(BATCH, D_IN));
        Map<String, double[]> grads = autograd(cfg, p, x, terms);
        NDArray frozen = x.sub(SaeLosses.compute(cfg, arrays(cfg, p), x, x, terms).output());
        int checked = 0;
        for (String name : p.keySet()) {
            if (name.equals("log_threshold") && !thresholdToo) {
                continue;
            }
            double[] v = p.get(name);
            for (int i = 0; i < v.length; i++) {
                double saved = v[i];
                v[i] = saved + H;
                double up = loss(cfg, p, x, terms, frozen);
                v[i] = saved - H;
                double down = loss(cfg, p, x, terms, frozen);
                v[i] = saved;
                double numeric = (up - down) / (2 * H);
                assertEquals(numeric, grads.get(name)[i], 1e-6 * Math.max(1, Math.abs(numeric)),
                        cfg.saeLensArchitecture() + " d loss / d " + name + "[" + i + "]");
                checked++;
            }
        }
        System.out.printf("%s: %d gradient entries match central differences%n", cfg.saeLensArchitecture(), checked);
    }

    @Test
    void standardLossAndGradient() {
        SaeConfig cfg = SaeConfig.standard("h", D_IN, D_SAE);
        Map<String, double[]> p = randomParams(cfg, 11);
        NDArray x = Tensors.ofDoubles(gaussian(new Random(5), BATCH * D_IN, 1.0), new Shape(BATCH, D_IN));
        // by hand: f = relu((x - b_dec) W_enc + b_enc), out = f W_dec + b_dec
        double[][] f = new double[BATCH][D_SAE];
        double mse = 0;
        double l1 = 0;
        double[] xs = x.toDoubleArray();
        for (int b = 0; b < BATCH; b++) {
            for (int i = 0; i < D_SAE; i++) {
                double pre = p.get("b_enc")[i];
                for (int j = 0; j < D_IN; j++) {
                    pre += (xs[b * D_IN + j] - p.get("b_dec")[j]) * p.get("W_enc")[j * D_SAE + i];
                }
                f[b][i] = Math.max(0, pre);
                double norm = 0;
                for (int j = 0; j < D_IN; j++) {
                    norm += p.get("W_dec")[i * D_IN + j] * p.get("W_dec")[i * D_IN + j];
                }
                l1 += f[b][i] * Math.sqrt(norm);
            }
            for (int j = 0; j < D_IN; j++) {
                double out = p.get("b_dec")[j];
                for (int i = 0; i < D_SAE; i++) {
                    out += f[b][i] * p.get("W_dec")[i * D_IN + j];
                }
                mse += (out - xs[b * D_IN + j]) * (out - xs[b * D_IN + j]);
            }
        }
        double expected = mse / BATCH + 0.3 * l1 / BATCH;
        assertEquals(expected, loss(cfg, p, x, SaeLosses.Terms.of(0.3)), 1e-12);
        checkAgainstFiniteDifferences(cfg, SaeLosses.Terms.of(0.3), false);
    }

    @Test
    void topKAndBatchTopKWithAuxKGradients() {
        NDArray dead = Tensors.ofBooleans(new boolean[] {false, true, false, true, true, false, false}, new Shape(D_SAE));
        SaeLosses.Terms terms = new SaeLosses.Terms(0, 0.05, 0.5, dead, 2);
        SaeConfig topK = SaeConfig.topK("h", D_IN, D_SAE, 2);
        checkAgainstFiniteDifferences(topK, SaeLosses.Terms.of(0), false);
        checkAgainstFiniteDifferences(topK, terms, false);
        checkAgainstFiniteDifferences(topK.withRescaleByDecoderNorm(true), terms, false);
        checkAgainstFiniteDifferences(topK.withArchitecture(SaeConfig.Architecture.BATCHTOPK, 2)
                .withRescaleByDecoderNorm(true), terms, false);
    }

    @Test
    void jumpReluSmoothPartsAndThresholdPseudoGradient() {
        SaeConfig cfg = SaeConfig.standard("h", D_IN, D_SAE).withArchitecture(SaeConfig.Architecture.JUMPRELU, 0);
        double eps = 0.4;
        double l0 = 0.7;
        SaeLosses.Terms terms = new SaeLosses.Terms(l0, eps, 1, null, 0);
        checkAgainstFiniteDifferences(cfg, terms, false);

        Map<String, double[]> p = randomParams(cfg, 11);
        NDArray x = Tensors.ofDoubles(gaussian(new Random(5), BATCH * D_IN, 1.0), new Shape(BATCH, D_IN));
        double[] got = autograd(cfg, p, x, terms).get("log_threshold");
        // The paper: dJumpReLU(z; θ)/dθ = -(θ/ε) K((z-θ)/ε), dH(z-θ)/dθ = -(1/ε) K((z-θ)/ε), K the rectangle on (-1/2, 1/2);
        // d loss/d acts_bi = (2/B) (out_b - x_b) · W_dec,i, d loss/d H_bi = l0 / B; and dθ/dlogθ = θ.
        double[] xs = x.toDoubleArray();
        double[] expected = new double[D_SAE];
        int inKernel = 0;
        for (int b = 0; b < BATCH; b++) {
            double[] z = new double[D_SAE];
            double[] out = p.get("b_dec").clone();
            for (int i = 0; i < D_SAE; i++) {
                z[i] = p.get("b_enc")[i];
                for (int j = 0; j < D_IN; j++) {
                    z[i] += (xs[b * D_IN + j] - p.get("b_dec")[j]) * p.get("W_enc")[j * D_SAE + i];
                }
            }
            double[] theta = new double[D_SAE];
            for (int i = 0; i < D_SAE; i++) {
                theta[i] = Math.exp(p.get("log_threshold")[i]);
                double act = z[i] > theta[i] ? z[i] : 0;
                for (int j = 0; j < D_IN; j++) {
                    out[j] += act * p.get("W_dec")[i * D_IN + j];
                }
            }
            for (int i = 0; i < D_SAE; i++) {
                double u = (z[i] - theta[i]) / eps;
                double k = u > -0.5 && u < 0.5 ? 1 : 0;
                inKernel += (int) k;
                double dActs = 0;
                for (int j = 0; j < D_IN; j++) {
                    dActs += 2.0 / BATCH * (out[j] - xs[b * D_IN + j]) * p.get("W_dec")[i * D_IN + j];
                }
                double dTheta = dActs * -(theta[i] / eps) * k + l0 / BATCH * -(1 / eps) * k;
                expected[i] += dTheta * theta[i];
            }
        }
        System.out.printf("jumprelu: %d of %d pre-activations inside the kernel; threshold gradient %s%n", inKernel,
                BATCH * D_SAE, java.util.Arrays.toString(got));
        for (int i = 0; i < D_SAE; i++) {
            assertEquals(expected[i], got[i], 1e-12, "d loss / d log_threshold[" + i + "]");
        }
    }

    @Test
    void batchTopKKeepsTheLargestOfTheWholeBatch() {
        NDArray pre = Tensors.ofDoubles(new double[] {3, -1, 0.5, 2, 0.1, 4, -2, 1}, new Shape(2, 4));
        // k = 2 over 2 rows: the 4 largest of the batch, whichever rows they are in
        assertEquals(java.util.List.of(3.0, 0.0, 0.0, 2.0, 0.0, 4.0, 0.0, 1.0),
                java.util.Arrays.stream(SaeLosses.batchTopK(pre, 2).toDoubleArray()).boxed().toList());
        assertEquals(DataType.FLOAT64, pre.getDataType());
    }
}
