package dev.loupe.sae;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;

import dev.loupe.display.Display;
import dev.loupe.display.ProgressBar;
import dev.loupe.load.Safetensors;
import dev.loupe.train.AdamW;
import dev.loupe.train.AtomicFolder;
import dev.loupe.train.Trainer;
import dev.loupe.train.TrainingLog;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The SAE training loop (made by {@link SaeTraining}): for each step, batch {@code step} of the {@link ActivationStore},
 * the architecture's loss ({@link SaeLosses}), its gradient, clipping to norm 1, Adam; then the tokens since each
 * feature last fired, BatchTopK's threshold, and every {@code resampleEvery} steps the resampling of dead features.
 * The log holds loss, mse, aux (the sparsity or AuxK term), lr, and on logging steps L0, explained variance and dead
 * features of the training batch. Checkpoints hold the SAE as SAELens saves it plus the training state (unfolded
 * parameters, Adam's moments, tokens since fired); a resumed run continues exactly where the checkpoint was written.
 */
public final class SaeTrainer {

    private static final double CLIP_NORM = 1.0;
    private static final long LIVE_CHART_SECONDS = 2;
    static final List<String> CHARTS = List.of("loss", "l0", "explained_variance", "dead_features");

    private final SaeTraining o;
    private final ActivationStore store;
    private final SaeConfig cfg;
    private TrainingSae sae;
    private final AdamW optimizer = new AdamW(0.9, 0.999, 1e-8, 0);
    private NDArray tokensSinceFired;
    private TrainingLog log = new TrainingLog();
    private double activationScale = 1;
    private long step;

    SaeTrainer(SaeTraining options, ActivationStore store) throws IOException {
        this.o = options;
        this.store = store;
        this.cfg = options.cfg;
        if (o.checkpoints != null && Files.isRegularFile(o.checkpoints.resolve("trainer.json"))) {
            resume(o.checkpoints);
        } else {
            if (o.normaliseActivations) {
                activationScale = store.estimateNormScale(1);
            }
            sae = TrainingSae.initialise(cfg, o.seed, o.dtype, o.decoderInitNorm, o.initThreshold);
            tokensSinceFired = sae.manager.zeros(new ai.djl.ndarray.types.Shape(cfg.dSae()), DataType.FLOAT64);
        }
        store.scale(activationScale);
        if (step == 0 && o.bDecInit != SaeTraining.BDecInit.ZEROS) {
            initialiseBDec();
        }
    }

    public long step() { return step; }

    public TrainingLog log() { return log; }

    /** The factor activations were multiplied by while training (1 without normalisation). */
    public double activationScale() { return activationScale; }

    /** The SAE as trained so far, folded for inference as SAELens saves it (a new SAE each call: close it). */
    public Sae sae() {
        return sae.toSae(activationScale);
    }

    /** The training-time parameters themselves (W_enc, b_enc, W_dec, b_dec, log_threshold), for tests and inspection. */
    Map<String, NDArray> parameters() {
        return sae.params;
    }

    /** Tokens since each feature last fired: [d_sae]. */
    public NDArray tokensSinceFired() {
        return tokensSinceFired;
    }

    /** Features that have not fired for the dead window: [d_sae] booleans. */
    public NDArray deadFeatures() {
        return tokensSinceFired.gt(o.deadWindowTokens);
    }

    /** Trains until step {@code until} (exclusive) or until the thread is interrupted. */
    public SaeTrainer run(long until) throws IOException {
        sae.params.values().forEach(p -> p.setRequiresGradient(true));
        boolean live = Display.sink().supportsUpdates();
        Map<String, String> chartIds = new LinkedHashMap<>();
        long drawnAt = System.nanoTime();
        try (ProgressBar bar = ProgressBar.start("training SAE on " + cfg.hookName(), until)) {
            bar.update(step);
            while (step < until && !Thread.currentThread().isInterrupted()) {
                trainStep(o.steps());
                step++;
                if (o.resampleEvery > 0 && step % o.resampleEvery == 0) {
                    Trainer.withoutGradients(() -> {
                        try (NDScope scope = new NDScope()) {
                            NDArray dead = deadFeatures();
                            Resampler.resample(sae, optimizer, dead, store.batch(step).input(), o.seed * 31 + step);
                            tokensSinceFired.muli(dead.logicalNot().toType(DataType.FLOAT64, false));
                        }
                        return null;
                    });
                }
                if (o.checkpoints != null && (step % o.checkpointEvery == 0 || step == until)) {
                    checkpoint(o.checkpoints);
                }
                bar.update(step);
                if (live && System.nanoTime() - drawnAt > LIVE_CHART_SECONDS * 1_000_000_000L) {
                    draw(chartIds);
                    drawnAt = System.nanoTime();
                }
            }
            if (step == until) {
                bar.done();
            }
        } finally {
            if (live && step > 0) {
                draw(chartIds);
            }
            sae.params.values().forEach(p -> p.setRequiresGradient(false));
        }
        return this;
    }

    private void draw(Map<String, String> ids) {
        for (String column : CHARTS) {
            if (!log.hasColumn(column)) {
                continue;
            }
            var chart = log.chart(column);
            if (ids.containsKey(column)) {
                Display.update(ids.get(column), chart);
            } else {
                ids.put(column, Display.display(chart));
            }
        }
    }

    /** SAELens's schedule: linear warm-up from lr/warmup, constant, linear decay to 0 over the last decay steps. */
    double lrAt(long s, long total) {
        double lr = o.lr;
        if (s < o.lrWarmupSteps) {
            return lr * (s + 1) / o.lrWarmupSteps;
        }
        long decayFrom = total - o.lrDecaySteps;
        return s >= decayFrom && o.lrDecaySteps > 0 ? lr * (1 - (double) (s - decayFrom) / o.lrDecaySteps) : lr;
    }

    /** The sparsity coefficient SAELens uses at step s: 0 at the first step of a warm-up, full after it. */
    double sparsityAt(long s) {
        return o.sparsityWarmupSteps > 0 ? o.sparsity * Math.min(1.0, (double) s / o.sparsityWarmupSteps) : o.sparsity;
    }

    private void trainStep(long total) {
        try (NDScope scope = new NDScope()) {
            ActivationStore.Batch batch = store.batch(step);
            Map<String, NDArray> params = sae.params;
            SaeLosses.Result r;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                SaeLosses.Terms terms = new SaeLosses.Terms(sparsityAt(step), o.bandwidth, o.auxCoefficient, deadFeatures(),
                        o.batchK);
                r = SaeLosses.compute(cfg, params, batch.input().toType(o.dtype, false), batch.target().toType(o.dtype, false), terms);
                collector.backward(r.total());
            }
            double lr = lrAt(step, total);
            Trainer.withoutGradients(() -> {
                Map<String, NDArray> grads = new LinkedHashMap<>();
                params.forEach((name, p) -> grads.put(name, p.getGradient()));
                double norm = Math.sqrt(grads.values().stream().mapToDouble(g -> g.square().sum()
                        .toType(DataType.FLOAT64, false).getDouble()).sum());
                if (norm > CLIP_NORM) {
                    grads.values().forEach(g -> g.muli(CLIP_NORM / (norm + 1e-6)));
                }
                if (o.normaliseDecoder) {
                    NDArray w = params.get("W_dec");
                    NDArray g = grads.get("W_dec");
                    g.subi(w.mul(g.mul(w).sum(new int[] {1}, true)));
                }
                optimizer.step(params, grads, lr);
                grads.values().forEach(g -> g.subi(g)); // gradients accumulate across backward passes
                if (o.normaliseDecoder) {
                    NDArray w = params.get("W_dec");
                    w.divi(w.norm(new int[] {1}, true));
                }
                NDArray fired = r.features().gt(0);
                NDArray firedAny = fired.toType(DataType.INT32, false).sum(new int[] {0}).gt(0);
                tokensSinceFired.addi(batch.input().getShape().get(0));
                tokensSinceFired.muli(firedAny.logicalNot().toType(DataType.FLOAT64, false));
                if (cfg.architecture() == SaeConfig.Architecture.BATCHTOPK) {
                    sae.updateBatchThreshold(r.features());
                }
                log.step(step + 1, scalar(r.total()), lr, norm);
                log.evaluation(step + 1, Map.of("mse", scalar(r.mse()), "aux", scalar(r.aux())));
                if ((step + 1) % o.logEvery == 0 || step + 1 == total) {
                    log.evaluation(step + 1, batchMetrics(fired, batch.target(), r.output()));
                }
                return null;
            });
        }
    }

    private Map<String, Double> batchMetrics(NDArray fired, NDArray target, NDArray output) {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("l0", scalar(fired.toType(DataType.FLOAT32, false).sum(new int[] {1}).mean()));
        NDArray centred = target.sub(target.mean(new int[] {0}, true));
        m.put("explained_variance", 1 - scalar(target.sub(output).square().sum()) / scalar(centred.square().sum()));
        m.put("dead_features", scalar(deadFeatures().toType(DataType.FLOAT32, false).sum()));
        return m;
    }

    private static double scalar(NDArray a) {
        return a.toType(DataType.FLOAT64, false).getDouble();
    }

    /** b_dec at the mean or geometric median (Weiszfeld's iterations) of the first batch, as SAELens once offered. */
    private void initialiseBDec() {
        Trainer.withoutGradients(() -> {
            try (NDScope scope = new NDScope()) {
                NDArray x = store.batch(0).target().toType(o.dtype, false);
                NDArray centre = x.mean(new int[] {0});
                if (o.bDecInit == SaeTraining.BDecInit.GEOMETRIC_MEDIAN) {
                    for (int i = 0; i < 100; i++) {
                        NDArray weights = x.sub(centre).norm(new int[] {1}, true).maximum(1e-8).pow(-1);
                        centre = x.mul(weights).sum(new int[] {0}).div(weights.sum());
                    }
                }
                NDArray bDec = sae.params.get("b_dec");
                bDec.subi(bDec).addi(centre);
            }
            return null;
        });
    }

    // ---------------------------------------------------------------- checkpoints

    private void checkpoint(Path dir) throws IOException {
        AtomicFolder.write(dir, d -> {
            try (Sae folded = sae()) {
                SaeFolder.writeInto(folded, d);
            }
            Map<String, NDArray> state = new LinkedHashMap<>();
            sae.params.forEach((name, p) -> state.put("param." + name, p));
            state.putAll(optimizer.state());
            state.put("tokens_since_fired", tokensSinceFired);
            Safetensors.write(d.resolve("training_state.safetensors"), state);
            Map<String, Object> about = new LinkedHashMap<>();
            about.put("step", step);
            about.put("optimizer_steps", optimizer.steps());
            about.put("activation_scale", activationScale);
            about.put("batch_threshold", sae.batchThreshold);
            Files.writeString(d.resolve("trainer.json"), new com.google.gson.Gson().toJson(about));
            log.writeCsv(d.resolve("metrics.csv"));
        });
    }

    private void resume(Path dir) throws IOException {
        var about = com.google.gson.JsonParser.parseString(Files.readString(dir.resolve("trainer.json"))).getAsJsonObject();
        Map<String, NDArray> state = Safetensors.read(dir.resolve("training_state.safetensors"));
        Map<String, NDArray> params = new LinkedHashMap<>();
        Map<String, NDArray> moments = new LinkedHashMap<>();
        state.forEach((name, a) -> {
            if (name.startsWith("param.")) {
                params.put(name.substring(6), a);
            } else if (name.startsWith("m.") || name.startsWith("v.")) {
                moments.put(name, kept(a));
            }
        });
        sae = TrainingSae.of(cfg, params, about.get("batch_threshold").getAsDouble());
        optimizer.restore(moments, about.get("optimizer_steps").getAsLong());
        tokensSinceFired = kept(state.get("tokens_since_fired"));
        step = about.get("step").getAsLong();
        activationScale = about.get("activation_scale").getAsDouble();
        log = TrainingLog.read(dir.resolve("metrics.csv"));
    }

    private static NDArray kept(NDArray a) {
        NDScope.unregister(a);
        return a;
    }
}
