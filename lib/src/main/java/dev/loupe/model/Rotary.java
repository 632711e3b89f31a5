package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ModelConfig.AttnType;
import dev.loupe.model.ModelConfig.RopeScaling;
import dev.loupe.tensor.Tensors;

/**
 * Rotary position embedding: the first rotary_dim dimensions of each query and key head are rotated in pairs by
 * position × frequency. Pairs are the two halves (x_i, x_{i + dim/2}) in GPT-NeoX, Llama and most models, or
 * adjacent dimensions (x_{2i}, x_{2i+1}) in GPT-J. Frequencies are base^(-2i/dim), stretched by rope_scaling.
 */
final class Rotary {

    private final int dim;
    private final boolean adjacentPairs;
    private final double[] frequencies; // [dim / 2]

    Rotary(ModelConfig cfg, int layer) {
        boolean local = cfg.attnTypes().get(layer) == AttnType.LOCAL && cfg.rotaryBaseLocal() > 0;
        this.dim = cfg.rotaryDim();
        this.adjacentPairs = cfg.rotaryAdjacentPairs();
        this.frequencies = frequencies(dim, local ? cfg.rotaryBaseLocal() : cfg.rotaryBase(),
                local ? RopeScaling.NONE : cfg.ropeScaling());
    }

    /** Hugging Face's inverse frequencies, with linear or Llama 3 scaling. */
    static double[] frequencies(int dim, double base, RopeScaling scaling) {
        double[] f = new double[dim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = 1 / Math.pow(base, 2.0 * i / dim);
            switch (scaling.type()) {
                case "linear" -> f[i] /= scaling.factor();
                case "llama3" -> f[i] = llama3(f[i], scaling);
                default -> { }
            }
        }
        return f;
    }

    /** Long wavelengths slowed by the factor, short ones kept, and a linear blend in between (in wavelength⁻¹). */
    private static double llama3(double f, RopeScaling s) {
        double wavelength = 2 * Math.PI / f;
        double lowFreqWavelength = s.originalMaxPositions() / s.lowFreqFactor();
        double highFreqWavelength = s.originalMaxPositions() / s.highFreqFactor();
        if (wavelength > lowFreqWavelength) {
            return f / s.factor();
        }
        if (wavelength < highFreqWavelength) {
            return f;
        }
        double smooth = (s.originalMaxPositions() / wavelength - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
        return (1 - smooth) * f / s.factor() + smooth * f;
    }

    /** x [batch, pos, head, d_head] rotated by positions [batch, pos] or [pos]. */
    NDArray rotate(NDArray x, NDArray positions) {
        Shape s = x.getShape();
        long batch = positions.getShape().dimension() == 2 ? positions.getShape().get(0) : 1;
        // Angles in float64 whatever the model's type: cos and sin are then rounded once.
        NDArray angles = positions.toType(DataType.FLOAT64, false).reshape(batch, s.get(1), 1, 1)
                .mul(Tensors.ofDoubles(frequencies, new Shape(frequencies.length)));  // [batch, pos, 1, dim/2]
        NDArray cos = angles.cos().toType(x.getDataType(), false);
        NDArray sin = angles.sin().toType(x.getDataType(), false);
        NDArray rotated = x.get(":, :, :, :" + dim);
        NDArray a;
        NDArray b;
        if (adjacentPairs) {
            NDArray pairs = rotated.reshape(s.get(0), s.get(1), s.get(2), dim / 2, 2);
            a = pairs.get(":, :, :, :, 0");
            b = pairs.get(":, :, :, :, 1");
        } else {
            a = rotated.get(":, :, :, :" + dim / 2);
            b = rotated.get(":, :, :, " + dim / 2 + ":");
        }
        NDArray ra = a.mul(cos).sub(b.mul(sin));
        NDArray rb = b.mul(cos).add(a.mul(sin));
        NDArray out = adjacentPairs
                ? NDArrays.stack(new NDList(ra, rb), 4).reshape(s.get(0), s.get(1), s.get(2), dim)
                : NDArrays.concat(new NDList(ra, rb), 3);
        return dim == s.get(3) ? out : NDArrays.concat(new NDList(out, x.get(":, :, :, " + dim + ":")), 3);
    }
}
