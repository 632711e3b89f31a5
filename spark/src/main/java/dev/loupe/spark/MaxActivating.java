package dev.loupe.spark;

import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.FeatureActivations;
import dev.loupe.sae.FeatureScan;
import dev.loupe.sae.FeatureStats;
import dev.loupe.sae.Units;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;

import java.util.List;

import scala.Tuple2;

/**
 * Max-activating contexts over a corpus on Spark: every partition's task scans its windows with Loupe's own forward
 * pass and {@link FeatureActivations#scan} (the model loaded once per executor), returns its scan (units × k contexts,
 * no activations), and the scans merge up a tree into the one a single machine would make, exactly: the same contexts,
 * in the same order, ties broken the same way.
 *
 * <pre>{@code
 * var spark = LocalSpark.start();
 * var stats = MaxActivating.of(spark, "loupe/ioi-organism", UnitsSpec.features("loupe/sae-ioi-organism"),
 *         Corpus.read(spark, "corpus/"), 20, 64);
 * stats.feature(7)            // the feature view, as after FeatureActivations.maxActivating
 * stats.toTable()             // every top context; TopContexts.write(spark, stats, out) as Parquet
 * }</pre>
 */
public final class MaxActivating {

    private MaxActivating() {}

    /** The top {@code k} contexts of each unit over {@code documents}, cut into windows of {@code context} tokens. */
    public static FeatureStats of(SparkSession spark, String model, UnitsSpec units, Dataset<String> documents, int k, int context) {
        return of(spark, model, units, documents, k, context, 0);
    }

    /** The same in {@code partitions} tasks (0: four per core Spark has). */
    public static FeatureStats of(SparkSession spark, String model, UnitsSpec units, Dataset<String> documents, int k, int context,
                                  int partitions) {
        return of(spark, model, units, documents, k, context, partitions, 0);
    }

    /** The same with batches of {@code windowsPerBatch} windows (0: as {@link FeatureActivations#maxActivating} sizes them). */
    static FeatureStats of(SparkSession spark, String model, UnitsSpec spec, Dataset<String> documents, int k, int context,
                           int partitions, int windowsPerBatch) {
        if (k < 1) {
            throw new IllegalArgumentException("k, the contexts kept per unit, must be at least 1; got " + k);
        }
        HookedTransformer driverModel = ExecutorModels.model(model);
        Units units = spec.build(driverModel); // checks the hook, neurons, directions and SAE width here, before any job
        CorpusWindows corpus = CorpusWindows.of(documents, model, context);
        try {
            if (corpus.windows() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("The corpus has " + corpus.windows() + " windows; at most 2^31 - 1 can be numbered");
            }
            int batch = windowsPerBatch > 0 ? windowsPerBatch : FeatureActivations.windowsPerBatch(corpus.longest, units.count());
            int parts = corpus.partitions(batch, partitions, spark.sparkContext().defaultParallelism());
            try (JobProgress progress = new JobProgress(spark.sparkContext(), "maxact " + units, parts, corpus.tokens)) {
                var tokens = progress.tokens;
                var done = progress.partitionsDone;
                FeatureScan scan = corpus.aligned(batch, parts).mapPartitions(it -> {
                    Tuple2<Long, List<Window>> part = CorpusWindows.consecutive(it);
                    if (part._2().isEmpty()) {
                        return List.<FeatureScan>of().iterator();
                    }
                    HookedTransformer m = ExecutorModels.model(model);
                    List<int[]> windows = part._2().stream().map(Window::tokens).toList();
                    FeatureScan s = FeatureActivations.scan(m, spec.build(m), windows, Math.toIntExact(part._1()), batch, k, tokens::add);
                    done.add(1);
                    return List.of(s).iterator();
                }).treeReduce(FeatureScan::merge);
                progress.finish();
                return FeatureStats.of(driverModel, units, scan);
            }
        } finally {
            corpus.release();
        }
    }
}
