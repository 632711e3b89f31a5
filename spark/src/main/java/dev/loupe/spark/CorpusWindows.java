package dev.loupe.spark;

import dev.loupe.sae.DocumentWindows;
import dev.loupe.tokenize.Tokenizer;

import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.storage.StorageLevel;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import scala.Tuple2;

/**
 * A corpus of documents as the windows a model reads ({@link DocumentWindows}), tokenized on the executors and kept
 * there: the driver learns only how many windows each partition holds, the longest, and the tokens. Windows are
 * numbered in corpus order (partition by partition, documents in order, windows in order), which is the order a
 * single machine reading the same documents would give them.
 */
final class CorpusWindows {

    private final JavaRDD<Window> windows;
    private final long[] counts;
    final int longest;
    final long tokens;

    private CorpusWindows(JavaRDD<Window> windows, long[] counts, int longest, long tokens) {
        this.windows = windows;
        this.counts = counts;
        this.longest = longest;
        this.tokens = tokens;
    }

    /**
     * Tokenizes every document with the model's tokenizer into windows of at most {@code context} tokens; refuses a
     * context the model cannot read and a corpus of no tokens.
     */
    static CorpusWindows of(Dataset<String> documents, String model, int context) {
        int nCtx = ExecutorModels.model(model).config().nCtx();
        if (context < 2 || context > nCtx) {
            throw new IllegalArgumentException("The context must be 2.." + nCtx + " tokens (the model's n_ctx); got " + context);
        }
        JavaRDD<Window> windows = documents.javaRDD().zipWithIndex().mapPartitions(docs -> {
            Tokenizer tokenizer = ExecutorModels.model(model).tokenizer().orElseThrow(() -> new IllegalArgumentException(
                    "Model " + model + " has no tokenizer: a corpus of text needs one (tokenizer.json in its folder)"));
            List<Window> out = new ArrayList<>();
            while (docs.hasNext()) {
                Tuple2<String, Long> doc = docs.next();
                List<int[]> pieces = DocumentWindows.of(tokenizer, doc._1(), context);
                for (int i = 0; i < pieces.size(); i++) {
                    out.add(new Window(doc._2(), DocumentWindows.start(tokenizer, i, context), pieces.get(i)));
                }
            }
            return out.iterator();
        }).persist(StorageLevel.MEMORY_AND_DISK_SER());
        List<long[]> parts = windows.mapPartitionsWithIndex((p, it) -> {
            long n = 0;
            long longest = 0;
            long tokens = 0;
            while (it.hasNext()) {
                int length = it.next().tokens().length;
                n++;
                tokens += length;
                longest = Math.max(longest, length);
            }
            return List.of(new long[] {p, n, longest, tokens}).iterator();
        }, true).collect();
        long[] counts = new long[parts.size()];
        int longest = 0;
        long tokens = 0;
        for (long[] p : parts) {
            counts[(int) p[0]] = p[1];
            longest = Math.max(longest, (int) p[2]);
            tokens += p[3];
        }
        if (tokens == 0) {
            windows.unpersist(false);
            throw new IllegalArgumentException("The corpus has no tokens: every document is empty");
        }
        return new CorpusWindows(windows, counts, longest, tokens);
    }

    long windows() {
        long n = 0;
        for (long c : counts) {
            n += c;
        }
        return n;
    }

    /** How many tasks: {@code requested} (0: four per core Spark has), but no more than there are batches. */
    int partitions(int windowsPerBatch, int requested, int cores) {
        long batches = (windows() + windowsPerBatch - 1) / windowsPerBatch;
        return (int) Math.min(batches, requested > 0 ? requested : 4L * cores);
    }

    /**
     * The windows keyed by their number in the corpus, sorted, in {@code partitions} partitions that each start at a
     * multiple of {@code windowsPerBatch}: every batch lies whole in one partition, as it does on a single machine.
     */
    JavaPairRDD<Long, Window> aligned(int windowsPerBatch, int partitions) {
        long[] offsets = new long[counts.length];
        for (int p = 1; p < counts.length; p++) {
            offsets[p] = offsets[p - 1] + counts[p - 1];
        }
        JavaPairRDD<Long, Window> numbered = windows.mapPartitionsWithIndex((p, it) -> {
            long next = offsets[p];
            List<Tuple2<Long, Window>> out = new ArrayList<>();
            while (it.hasNext()) {
                out.add(new Tuple2<>(next++, it.next()));
            }
            return out.iterator();
        }, true).mapToPair(t -> t);
        return numbered.repartitionAndSortWithinPartitions(new BatchPartitioner(partitions, windowsPerBatch, windows()));
    }

    /** A partition's windows, which must be consecutive: the first one's number, and the windows. */
    static Tuple2<Long, List<Window>> consecutive(Iterator<Tuple2<Long, Window>> it) {
        List<Window> out = new ArrayList<>();
        long first = -1;
        while (it.hasNext()) {
            Tuple2<Long, Window> w = it.next();
            if (first < 0) {
                first = w._1();
            } else if (w._1() != first + out.size()) {
                throw new IllegalStateException("Window " + w._1() + " follows window " + (first + out.size() - 1)
                        + " in a partition: the windows were not partitioned by their number");
            }
            out.add(w._2());
        }
        return new Tuple2<>(first, out);
    }

    void release() {
        windows.unpersist(false);
    }

    /** Whole batches of windows to each partition, in order: partition p holds batches [p·b/n, (p+1)·b/n). */
    static final class BatchPartitioner extends Partitioner {

        private static final long serialVersionUID = 1L;

        private final int partitions;
        private final int windowsPerBatch;
        private final long batches;

        BatchPartitioner(int partitions, int windowsPerBatch, long windows) {
            this.partitions = partitions;
            this.windowsPerBatch = windowsPerBatch;
            this.batches = Math.max(1, (windows + windowsPerBatch - 1) / windowsPerBatch);
        }

        @Override
        public int numPartitions() {
            return partitions;
        }

        @Override
        public int getPartition(Object key) {
            long batch = (Long) key / windowsPerBatch;
            return (int) (batch * partitions / batches);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof BatchPartitioner b && b.partitions == partitions && b.windowsPerBatch == windowsPerBatch
                    && b.batches == batches;
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(partitions, windowsPerBatch, batches);
        }
    }
}
