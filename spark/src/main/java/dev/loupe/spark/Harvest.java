package dev.loupe.spark;

import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.ActivationShards;
import dev.loupe.sae.FeatureActivations;
import dev.loupe.sae.Units;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import scala.Tuple2;

/**
 * Activations at chosen hook points over a corpus, harvested on Spark into safetensors shards for SAE training to
 * stream from ({@code ActivationStore.fromShards(out, hook)}): each partition's task runs its windows with Loupe's
 * forward pass and writes its shards itself (whole or not at all), and the driver writes the index from the shards'
 * names and sizes. The driver never holds an activation. The output folder must be one every executor can write and
 * the reader can read: any folder in local mode, a shared file system on a cluster.
 *
 * <pre>{@code
 * Harvest.of(spark, "loupe/ioi-organism", List.of("blocks.2.hook_resid_pre"), Corpus.read(spark, "corpus/"), 64, "acts/");
 * var store = ActivationStore.fromShards(Path.of("acts/"), "blocks.2.hook_resid_pre");
 * }</pre>
 */
public final class Harvest {

    /** Tokens a shard holds at most, unless one window is longer: 65,536 tokens of a d_model-768 stream are 200 MB. */
    public static final int SHARD_TOKENS = 1 << 16;

    private Harvest() {}

    public static ActivationShards.Index of(SparkSession spark, String model, List<String> hooks, Dataset<String> documents,
                                            int context, String out) {
        return of(spark, model, hooks, documents, context, out, SHARD_TOKENS, 0);
    }

    /** The same with at most {@code shardTokens} tokens a shard, in {@code partitions} tasks (0: four per core). */
    public static ActivationShards.Index of(SparkSession spark, String model, List<String> hooks, Dataset<String> documents,
                                            int context, String out, int shardTokens, int partitions) {
        return of(spark, model, hooks, documents, context, out, shardTokens, partitions, 0);
    }

    /** The same with batches of {@code windowsPerBatch} windows (0: as many as keep a batch's activations to 64 MB). */
    static ActivationShards.Index of(SparkSession spark, String model, List<String> hooks, Dataset<String> documents,
                                     int context, String out, int shardTokens, int partitions, int windowsPerBatch) {
        Path dir = Path.of(out);
        refuseNonEmpty(dir);
        if (hooks.isEmpty() || shardTokens < 1) {
            throw new IllegalArgumentException("Give at least one hook point and a positive shard size; got " + hooks
                    + ", " + shardTokens + " tokens a shard");
        }
        HookedTransformer driverModel = ExecutorModels.model(model);
        Map<String, Integer> widths = new LinkedHashMap<>();
        hooks.forEach(h -> widths.put(h, Units.width(driverModel, h))); // an unknown hook fails here, with the closest names
        int totalWidth = widths.values().stream().mapToInt(Integer::intValue).sum();
        boolean bos = driverModel.tokenizer().orElseThrow().bosTokenId().isPresent();
        CorpusWindows corpus = CorpusWindows.of(documents, model, context);
        try {
            int batch = windowsPerBatch > 0 ? windowsPerBatch : FeatureActivations.windowsPerBatch(corpus.longest, totalWidth);
            int parts = corpus.partitions(batch, partitions, spark.sparkContext().defaultParallelism());
            String absolute = dir.toAbsolutePath().toString();
            List<ActivationShards.Entry> shards;
            try (JobProgress progress = new JobProgress(spark.sparkContext(), "harvest " + String.join(", ", hooks), parts, corpus.tokens)) {
                var tokens = progress.tokens;
                var done = progress.partitionsDone;
                shards = corpus.aligned(batch, parts).mapPartitionsWithIndex((p, it) -> {
                    Tuple2<Long, List<Window>> part = CorpusWindows.consecutive(it);
                    List<ActivationShards.Entry> written = new ArrayList<>();
                    List<Window> windows = part._2();
                    HookedTransformer m = ExecutorModels.model(model);
                    for (int from = 0, n = 0; from < windows.size(); n++) {
                        int to = from;
                        long size = 0;
                        while (to < windows.size() && (to == from || size + windows.get(to).tokens().length <= shardTokens)) {
                            size += windows.get(to++).tokens().length;
                        }
                        List<Window> chunk = windows.subList(from, to);
                        ActivationShards.Shard shard = ActivationShards.harvest(m, hooks, chunk.stream().map(Window::tokens).toList(),
                                chunk.stream().mapToLong(Window::doc).toArray(), chunk.stream().mapToInt(Window::start).toArray(),
                                bos, batch);
                        String name = String.format(Locale.ROOT, "shard-%05d-%04d.safetensors", p, n);
                        ActivationShards.write(Path.of(absolute, name), shard);
                        written.add(new ActivationShards.Entry(name, shard.tokens()));
                        tokens.add(shard.tokens());
                        from = to;
                    }
                    done.add(1);
                    return written.iterator();
                }, true).collect();
                progress.finish();
            }
            ActivationShards.Index index = new ActivationShards.Index(model, context, widths, shards);
            try {
                ActivationShards.writeIndex(dir, index);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return index;
        } finally {
            corpus.release();
        }
    }

    /** Shards of an earlier run must not mix with this run's: the output folder is new or empty. */
    private static void refuseNonEmpty(Path dir) {
        if (!Files.isDirectory(dir)) {
            if (Files.exists(dir)) {
                throw new IllegalArgumentException("The output " + dir + " is a file, not a folder");
            }
            return;
        }
        try (Stream<Path> files = Files.list(dir)) {
            if (files.findAny().isPresent()) {
                throw new IllegalArgumentException("The output folder " + dir + " is not empty; give a new folder (shards of"
                        + " another run would mix with these)");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
