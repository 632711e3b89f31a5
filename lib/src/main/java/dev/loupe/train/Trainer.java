package dev.loupe.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;

import dev.loupe.display.Display;
import dev.loupe.display.ProgressBar;
import dev.loupe.load.Safetensors;
import dev.loupe.model.HookedTransformer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.LongFunction;
import java.util.function.Predicate;

/**
 * A training loop for a HookedTransformer: for each step, a batch from {@code batches.apply(step)}, the loss, its
 * gradient, optional clipping of the global gradient norm, an optional {@link GradientFilter}, an AdamW step at the
 * schedule's learning rate. Metrics go to a {@link TrainingLog}; evaluations run every {@code evalEvery} steps;
 * checkpoints (model, optimizer, log) are written atomically every {@code checkpointEvery} steps and {@link #resume}
 * continues from the last one. A batch must depend only on its step so that a resumed run sees the same data. An
 * interrupted thread (a notebook's interrupt) ends the run after the current step, with the model usable.
 * <p>
 * The gradient norm costs a pass over every gradient and a wait for its value, so without clipping it is measured
 * (and logged) only on evaluation steps; other rows hold NaN.
 */
public final class Trainer {

    private final HookedTransformer model;
    private final AdamW optimizer;
    private final LrSchedule schedule;
    private final LongFunction<NDArray> batches;
    private BiFunction<HookedTransformer, NDArray, NDArray> loss;
    private final double clipGradNorm;
    private final List<Function<HookedTransformer, Map<String, Double>>> evals = new ArrayList<>();
    private static final long LIVE_CHART_SECONDS = 2;
    private long evalEvery;
    private Path checkpointDir;
    private long checkpointEvery;
    private final TrainingLog log = new TrainingLog();
    private long step;
    private List<String> liveColumns = List.of();
    private Predicate<String> trained = name -> true;
    private GradientFilter filter;

    /** Next-token loss on each batch of tokens; see {@link #withLoss} for other objectives. */
    public Trainer(HookedTransformer model, AdamW optimizer, LrSchedule schedule, LongFunction<NDArray> batches, double clipGradNorm) {
        this.model = model;
        this.optimizer = optimizer;
        this.schedule = schedule;
        this.batches = batches;
        this.loss = HookedTransformer::loss;
        this.clipGradNorm = clipGradNorm;
    }

    /** Trains on another scalar loss of (model, batch). */
    public Trainer withLoss(BiFunction<HookedTransformer, NDArray, NDArray> newLoss) {
        loss = newLoss;
        return this;
    }

    /** Records {@code metric(model)} under {@code name} every {@code every} steps (and at the last step). */
    public Trainer evaluate(String name, long every, Function<HookedTransformer, Double> metric) {
        return evaluateAll(every, m -> Map.of(name, metric.apply(m)));
    }

    /** Records several metrics from one computation (say, one forward pass) every {@code every} steps. */
    public Trainer evaluateAll(long every, Function<HookedTransformer, Map<String, Double>> metrics) {
        evals.add(metrics);
        evalEvery = every;
        return this;
    }

    /** Trains only the parameters whose names pass {@code names}; the others keep their values. */
    public Trainer trainOnly(Predicate<String> names) {
        trained = names;
        return this;
    }

    /** Passes every step's gradients through {@code f} (after clipping, before the optimizer). */
    public Trainer filterGradients(GradientFilter f) {
        filter = f;
        return this;
    }

    /** Writes a checkpoint into {@code dir} every {@code every} steps and at the end. */
    public Trainer checkpoints(Path dir, long every) {
        this.checkpointDir = dir;
        this.checkpointEvery = every;
        return this;
    }

    /**
     * In a notebook, a chart of these logged columns (for example {@code "loss", "induction_score"}) against the
     * step, redrawn every {@value #LIVE_CHART_SECONDS} seconds while training and once at the end; on a console,
     * nothing beyond the progress line.
     */
    public Trainer liveChart(String... columns) {
        liveColumns = List.of(columns);
        return this;
    }

    private String draw(String chartId, String[] columns) {
        if (chartId == null) {
            return Display.display(log.chart(columns));
        }
        Display.update(chartId, log.chart(columns));
        return chartId;
    }

    public TrainingLog log() {
        return log;
    }

    public long step() {
        return step;
    }

    /** Trains until step {@code until} (exclusive), or until the thread is interrupted. */
    public TrainingLog run(long until) throws IOException {
        Map<String, NDArray> params = new LinkedHashMap<>();
        model.stateDict().forEach((name, p) -> {
            if (trained.test(name)) {
                params.put(name, p);
            }
        });
        params.values().forEach(p -> p.setRequiresGradient(true));
        String[] live = liveColumns.toArray(String[]::new);
        boolean drawLive = live.length > 0 && Display.sink().supportsUpdates();
        String chartId = null;
        long drawnAt = System.nanoTime();
        try (ProgressBar bar = ProgressBar.start("training " + model.config().modelName(), until)) {
            bar.update(step);
            while (step < until && !Thread.currentThread().isInterrupted()) {
                boolean evaluating = evalEvery > 0 && ((step + 1) % evalEvery == 0 || step + 1 == until);
                trainStep(params, evaluating);
                step++;
                if (evaluating) {
                    Map<String, Double> values = new LinkedHashMap<>();
                    evals.forEach(metrics -> values.putAll(withoutGradients(() -> metrics.apply(model))));
                    log.evaluation(step, values);
                }
                if (checkpointDir != null && (step % checkpointEvery == 0 || step == until)) {
                    saveCheckpoint();
                }
                bar.update(step);
                if (drawLive && System.nanoTime() - drawnAt > LIVE_CHART_SECONDS * 1_000_000_000L) {
                    chartId = draw(chartId, live);
                    drawnAt = System.nanoTime();
                }
            }
        } finally {
            if (drawLive && step > 0) {
                draw(chartId, live);
            }
            params.values().forEach(p -> p.setRequiresGradient(false));
        }
        return log;
    }

    private void trainStep(Map<String, NDArray> params, boolean measureNorm) {
        double lr = schedule.at(step);
        try (NDScope scope = new NDScope()) {
            double lossValue;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray value = loss.apply(model, batches.apply(step));
                collector.backward(value);
                lossValue = value.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
            }
            Map<String, NDArray> grads = new LinkedHashMap<>();
            params.forEach((name, p) -> grads.put(name, p.getGradient()));
            double norm = clipGradNorm > 0 || measureNorm ? globalNorm(grads.values()) : Double.NaN;
            withoutGradients(() -> {
                if (clipGradNorm > 0 && norm > clipGradNorm) {
                    grads.values().forEach(g -> g.muli(clipGradNorm / (norm + 1e-6)));
                }
                if (filter != null) {
                    filter.apply(grads);
                }
                optimizer.step(params, grads, lr);
                grads.values().forEach(g -> g.subi(g)); // PyTorch accumulates gradients across backward passes
                return null;
            });
            log.step(step + 1, lossValue, lr, norm);
        }
    }

    private static double globalNorm(java.util.Collection<NDArray> grads) {
        return Math.sqrt(grads.stream().mapToDouble(g -> g.square().sum().toType(
                ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble()).sum());
    }

    /** Runs {@code body} with autograd off: in-place updates of parameters that require gradients need it. */
    public static <T> T withoutGradients(java.util.function.Supplier<T> body) {
        boolean was = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            return body.get();
        } finally {
            JniUtils.setGradMode(was);
        }
    }

    private void saveCheckpoint() throws IOException {
        AtomicFolder.write(checkpointDir, dir -> {
            model.save(dir);
            Safetensors.write(dir.resolve("optimizer.safetensors"), optimizer.state());
            Files.writeString(dir.resolve("trainer.json"), "{\"step\": " + step + ", \"optimizer_steps\": " + optimizer.steps() + "}");
            log.writeCsv(dir.resolve("metrics.csv"));
        });
    }

    /** Continues from the checkpoint in {@code dir} if one is there (an interrupted run); says whether it did. */
    public boolean resumeIfSaved(Path dir) throws IOException {
        if (!Files.isRegularFile(dir.resolve("trainer.json"))) {
            return false;
        }
        resume(dir);
        return true;
    }

    /** Continues from the checkpoint in {@code dir}: weights, optimizer moments, step and metrics so far. */
    public Trainer resume(Path dir) throws IOException {
        HookedTransformer saved = HookedTransformer.load(dir);
        saved.stateDict().forEach(model::setParameter);
        String json = Files.readString(dir.resolve("trainer.json"));
        var o = com.google.gson.JsonParser.parseString(json).getAsJsonObject();
        step = o.get("step").getAsLong();
        optimizer.restore(Safetensors.read(dir.resolve("optimizer.safetensors")), o.get("optimizer_steps").getAsLong());
        log.readCsv(dir.resolve("metrics.csv"));
        return this;
    }
}
