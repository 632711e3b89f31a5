package dev.loupe.sae;

import ai.djl.ndarray.types.DataType;

import dev.loupe.model.HookedTransformer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * How to train an SAE, fluently, with SAELens's defaults where it has them:
 *
 * <pre>
 *   var run = SaeTraining.of(model, SaeConfig.topK("blocks.2.hook_resid_pre", 128, 1024, 32))
 *           .tokens(2_000_000).batchSize(4096).lr(4e-4).train(store);
 *   run.sae(); run.log(); run.evaluate(...)
 * </pre>
 *
 * Adam (betas 0.9, 0.999, no weight decay), gradients clipped to norm 1, learning rate warmed up linearly over
 * {@link #lrWarmupSteps} and decayed linearly to zero over the last {@link #lrDecaySteps}; the sparsity coefficient
 * (l1 for standard SAEs, l0 for JumpReLU) warmed up from zero over {@link #sparsityWarmupSteps}. A feature is dead
 * after {@link #deadWindowTokens} tokens without firing (SAELens counts steps: 1,000 of 4,096 tokens).
 */
public final class SaeTraining {

    /** Where b_dec starts. */
    public enum BDecInit { ZEROS, MEAN, GEOMETRIC_MEDIAN }

    final HookedTransformer model;
    final SaeConfig cfg;
    long tokens = 2_000_000;
    int batchSize = 4096;
    double lr = 3e-4;
    long lrWarmupSteps;
    long lrDecaySteps;
    double sparsity = 1.0;
    long sparsityWarmupSteps;
    double auxCoefficient = 1.0;
    double batchK;
    double bandwidth = 0.05;
    double initThreshold = 0.01;
    double decoderInitNorm = 0.1;
    boolean normaliseDecoder;
    boolean normaliseActivations;
    BDecInit bDecInit = BDecInit.ZEROS;
    long deadWindowTokens = 1000L * 4096;
    long resampleEvery;
    long seed;
    long logEvery = 1;
    Path checkpoints;
    long checkpointEvery;
    DataType dtype = DataType.FLOAT32;

    private SaeTraining(HookedTransformer model, SaeConfig cfg) {
        this.model = model;
        this.cfg = cfg;
        this.batchK = cfg.k();
    }

    /** Training for an SAE of this config on this model's activations. */
    public static SaeTraining of(HookedTransformer model, SaeConfig cfg) {
        if (cfg.kind() == SaeConfig.Kind.SKIP_TRANSCODER) {
            throw new IllegalArgumentException("Training skip transcoders is not supported; train an SAE or a transcoder");
        }
        return new SaeTraining(model, cfg.withModelName(cfg.modelName().isEmpty() ? model.config().modelName() : cfg.modelName()));
    }

    /** Training tokens (activations); steps = tokens / batchSize. */
    public SaeTraining tokens(long n) { tokens = n; return this; }

    public SaeTraining batchSize(int rows) { batchSize = rows; return this; }

    public SaeTraining lr(double rate) { lr = rate; return this; }

    public SaeTraining lrWarmupSteps(long steps) { lrWarmupSteps = steps; return this; }

    public SaeTraining lrDecaySteps(long steps) { lrDecaySteps = steps; return this; }

    /** The l1 coefficient of a standard SAE. */
    public SaeTraining l1(double coefficient) { sparsity = coefficient; return this; }

    /** The l0 coefficient of a JumpReLU SAE. */
    public SaeTraining l0(double coefficient) { sparsity = coefficient; return this; }

    /** Steps over which the l1 or l0 coefficient rises linearly from 0. */
    public SaeTraining sparsityWarmupSteps(long steps) { sparsityWarmupSteps = steps; return this; }

    /** AuxK's coefficient (TopK and BatchTopK). */
    public SaeTraining auxCoefficient(double c) { auxCoefficient = c; return this; }

    /**
     * BatchTopK's average number of active features per row, which SAELens lets be fractional: a batch of B rows keeps
     * its {@code int(k · B)} largest activations. Defaults to the config's k.
     */
    public SaeTraining batchTopK(double k) {
        if (cfg.architecture() != SaeConfig.Architecture.BATCHTOPK || !(k > 0)) {
            throw new IllegalArgumentException("batchTopK(k) needs a BatchTopK SAE and k > 0; got "
                    + cfg.saeLensArchitecture() + ", k " + k);
        }
        batchK = k;
        return this;
    }

    /** JumpReLU's kernel width ε and initial threshold. */
    public SaeTraining jumpRelu(double kernelBandwidth, double initialThreshold) {
        bandwidth = kernelBandwidth;
        initThreshold = initialThreshold;
        return this;
    }

    public SaeTraining decoderInitNorm(double norm) { decoderInitNorm = norm; return this; }

    /**
     * Keep decoder rows at unit norm, removing the gradient's component along each row before a step (SAELens's
     * older {@code normalize_sae_decoder} with {@code remove_gradient_parallel_to_decoder_directions}).
     */
    public SaeTraining normaliseDecoder(boolean on) { normaliseDecoder = on; return this; }

    /** Scale activations to average norm √d_in while training, the factor folded into the saved weights. */
    public SaeTraining normaliseActivations(boolean on) { normaliseActivations = on; return this; }

    public SaeTraining bDecInit(BDecInit how) { bDecInit = how; return this; }

    public SaeTraining deadWindowTokens(long n) { deadWindowTokens = n; return this; }

    /** Resample dead features (Anthropic's method) every this many steps; 0 never. Standard SAEs only. */
    public SaeTraining resampleEvery(long steps) { resampleEvery = steps; return this; }

    public SaeTraining seed(long s) { seed = s; return this; }

    /** Log L0, explained variance and dead features of the training batch every this many steps. */
    public SaeTraining logEvery(long steps) { logEvery = steps; return this; }

    /** Checkpoint into {@code dir} every {@code everySteps} steps and at the end; an existing checkpoint is resumed. */
    public SaeTraining checkpoints(Path dir, long everySteps) {
        checkpoints = dir;
        checkpointEvery = everySteps;
        return this;
    }

    public SaeTraining dtype(DataType type) { dtype = type; return this; }

    public SaeConfig config() { return cfg; }

    public long steps() { return tokens / batchSize; }

    /** A trainer ready to run (resumed from the checkpoint folder if one is there). */
    public SaeTrainer trainer(ActivationStore store) throws IOException {
        if (cfg.architecture() != SaeConfig.Architecture.STANDARD && resampleEvery > 0) {
            throw new IllegalArgumentException("Resampling is for standard SAEs; " + cfg.saeLensArchitecture()
                    + " SAEs revive dead features with their own loss (AuxK) or thresholds");
        }
        if (normaliseActivations && cfg.kind() != SaeConfig.Kind.SAE) {
            throw new IllegalArgumentException("Activation normalisation is for SAEs; a transcoder's input and output"
                    + " would need factors of their own");
        }
        return new SaeTrainer(this, store.batchSize(batchSize).seed(seed));
    }

    /** Trains to the end (or until the thread is interrupted) and returns the trainer, with the SAE and its log. */
    public SaeTrainer train(ActivationStore store) throws IOException {
        SaeTrainer trainer = trainer(store);
        trainer.run(steps());
        return trainer;
    }
}
