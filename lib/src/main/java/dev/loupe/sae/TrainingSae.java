package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * An SAE's training-time parameters ({@code W_enc, b_enc, W_dec, b_dec}, and {@code log_threshold} for JumpReLU; a
 * BatchTopK SAE also tracks the threshold it will be saved with), initialised as SAELens does, and the inference SAE
 * they fold into.
 */
final class TrainingSae implements AutoCloseable {

    /** SAELens's {@code topk_threshold_lr}: the moving average's step towards each batch's least positive activation. */
    static final double THRESHOLD_LR = 0.01;

    final SaeConfig cfg;
    final NDManager manager = NDManager.newBaseManager();
    final Map<String, NDArray> params = new LinkedHashMap<>();
    /** BatchTopK's inference threshold, on rescaled pre-activations. */
    double batchThreshold;

    private TrainingSae(SaeConfig cfg) {
        this.cfg = cfg;
    }

    /**
     * SAELens's initialisation: decoder rows drawn Kaiming-uniform, then scaled to norm {@code decoderInitNorm};
     * {@code W_enc = W_decᵀ}; zero biases; {@code log_threshold = log(initThreshold)} for JumpReLU.
     */
    static TrainingSae initialise(SaeConfig cfg, long seed, DataType type, double decoderInitNorm, double initThreshold) {
        TrainingSae t = new TrainingSae(cfg);
        Random random = new Random(seed);
        int rows = cfg.dSae();
        int cols = cfg.dOut();
        double[] wDec = new double[rows * cols];
        double bound = Math.sqrt(6.0 / cols); // kaiming_uniform_ with fan_in = W_dec's second dimension
        for (int r = 0; r < rows; r++) {
            double norm = 0;
            for (int c = 0; c < cols; c++) {
                double v = (2 * random.nextDouble() - 1) * bound;
                wDec[r * cols + c] = v;
                norm += v * v;
            }
            double scale = decoderInitNorm / Math.sqrt(norm);
            for (int c = 0; c < cols; c++) {
                wDec[r * cols + c] *= scale;
            }
        }
        NDArray dec = t.own(Tensors.ofDoubles(wDec, new Shape(rows, cols)).toType(type, false));
        if (cfg.dIn() != cfg.dOut()) {
            throw new IllegalArgumentException("Training initialises W_enc as W_dec transposed, which needs d_in = d_out;"
                    + " got d_in " + cfg.dIn() + ", d_out " + cfg.dOut());
        }
        t.params.put("W_enc", t.own(dec.transpose().duplicate()));
        t.params.put("b_enc", t.own(t.manager.zeros(new Shape(rows), type)));
        t.params.put("W_dec", dec);
        t.params.put("b_dec", t.own(t.manager.zeros(new Shape(cols), type)));
        if (cfg.architecture() == SaeConfig.Architecture.JUMPRELU) {
            t.params.put("log_threshold", t.own(t.manager.full(new Shape(rows), (float) Math.log(initThreshold), type)));
        }
        return t;
    }

    /** Training-time parameters as they are, for a test or a resumed run. */
    static TrainingSae of(SaeConfig cfg, Map<String, NDArray> params, double batchThreshold) {
        TrainingSae t = new TrainingSae(cfg);
        params.forEach((name, a) -> t.params.put(name, t.own(a.duplicate())));
        t.batchThreshold = batchThreshold;
        return t;
    }

    private NDArray own(NDArray a) {
        a.attach(manager);
        return a;
    }

    /** BatchTopK's moving average towards the least positive activation of a batch (none if nothing fired). */
    void updateBatchThreshold(NDArray features) {
        NDArray positive = features.gt(0);
        if (positive.any().getBoolean()) {
            double least = features.booleanMask(positive).min().toType(DataType.FLOAT64, false).getDouble();
            batchThreshold = (1 - THRESHOLD_LR) * batchThreshold + THRESHOLD_LR * least;
        }
    }

    /**
     * The inference SAE, as SAELens saves it: TopK and BatchTopK decoder norms folded into the encoder (so the saved
     * SAE needs no rescaling), BatchTopK saved as JumpReLU with its tracked threshold for every feature, JumpReLU's
     * {@code threshold = exp(log_threshold)}, and an activation scale {@code s} (training saw {@code s·x}) folded into
     * {@code W_enc ×s, W_dec ÷s, b_dec ÷s}.
     */
    Sae toSae(double activationScale) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray wEnc = params.get("W_enc").duplicate();
            NDArray bEnc = params.get("b_enc").duplicate();
            NDArray wDec = params.get("W_dec").duplicate();
            NDArray bDec = params.get("b_dec").duplicate();
            for (NDArray a : new NDArray[] {wEnc, bEnc, wDec, bDec}) {
                a.attach(m);
            }
            if (cfg.rescaleByDecoderNorm()) {
                NDArray norm = wDec.norm(new int[] {1});
                wEnc = wEnc.mul(norm);
                bEnc = bEnc.mul(norm);
                wDec = wDec.div(norm.expandDims(1));
            }
            if (activationScale != 1) {
                wEnc = wEnc.mul(activationScale);
                wDec = wDec.div(activationScale);
                bDec = bDec.div(activationScale);
            }
            Map<String, NDArray> weights = new LinkedHashMap<>();
            weights.put("W_enc", wEnc);
            weights.put("b_enc", bEnc);
            weights.put("W_dec", wDec);
            weights.put("b_dec", bDec);
            SaeConfig saved = inferenceConfig();
            if (cfg.architecture() == SaeConfig.Architecture.JUMPRELU) {
                weights.put("threshold", params.get("log_threshold").exp());
            } else if (cfg.architecture() == SaeConfig.Architecture.BATCHTOPK) {
                weights.put("threshold", m.full(new Shape(cfg.dSae()), (float) batchThreshold, wEnc.getDataType()));
            }
            return Sae.fromWeights(saved, weights);
        }
    }

    /** The config the folded weights are saved under. */
    SaeConfig inferenceConfig() {
        boolean batch = cfg.architecture() == SaeConfig.Architecture.BATCHTOPK;
        return new SaeConfig(batch ? SaeConfig.Architecture.JUMPRELU : cfg.architecture(), cfg.kind(), cfg.dIn(),
                cfg.dSae(), cfg.dOut(), cfg.hookName(), cfg.hookNameOut(), cfg.modelName(), batch ? 0 : cfg.k(),
                cfg.applyBDecToInput(), cfg.normalization(), false, cfg.metadata());
    }

    @Override
    public void close() {
        manager.close();
    }
}
