package dev.loupe.spark;

import dev.loupe.display.Display;
import dev.loupe.display.ProgressBar;

import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.util.LongAccumulator;

import java.util.Locale;

import scala.jdk.javaapi.CollectionConverters;

/**
 * A job's progress as its partitions finish (partitions done, tokens, tokens/s): in a notebook a {@link ProgressBar}
 * over the tokens, updated in place, with the partitions and the rate as its note; on a console a line per partition.
 * Tasks count their tokens and themselves in two accumulators; the driver hears each task's updates when it ends, so
 * nothing but two numbers travels.
 */
final class JobProgress extends SparkListener implements AutoCloseable {

    final LongAccumulator tokens;
    final LongAccumulator partitionsDone;
    private final SparkContext spark;
    private final String label;
    private final int partitions;
    private final long totalTokens;
    private final long start = System.nanoTime();
    /** The notebook's bar; null on a console. */
    private final ProgressBar bar;
    private long tokensSeen;
    private long partitionsSeen;

    JobProgress(SparkContext spark, String label, int partitions, long totalTokens) {
        this.spark = spark;
        this.label = label;
        this.partitions = partitions;
        this.totalTokens = totalTokens;
        tokens = spark.longAccumulator(label + " tokens");
        partitionsDone = spark.longAccumulator(label + " partitions");
        bar = Display.sink().supportsUpdates() ? ProgressBar.start(label, totalTokens) : null;
        if (bar != null) {
            bar.update(0, partitionsNote());
        }
        spark.addSparkListener(this);
    }

    @Override
    public synchronized void onTaskEnd(SparkListenerTaskEnd end) {
        long before = partitionsSeen;
        for (AccumulableInfo a : CollectionConverters.asJava(end.taskInfo().accumulables())) {
            if (a.update().isDefined() && a.id() == tokens.id()) {
                tokensSeen += ((Number) a.update().get()).longValue();
            } else if (a.update().isDefined() && a.id() == partitionsDone.id()) {
                partitionsSeen += ((Number) a.update().get()).longValue();
            }
        }
        if (partitionsSeen == before) {
            return;
        }
        if (bar != null) {
            bar.update(tokensSeen, partitionsNote());
        } else {
            System.err.println(line());
        }
    }

    /** "maxact: 3 of 8 partitions, 1,234,567 of 9,876,543 tokens, 35,120 tokens/s". */
    synchronized String line() {
        return String.format(Locale.ROOT, "%s: %d of %d partitions, %,d of %,d tokens, %,.0f tokens/s", label, partitionsSeen,
                partitions, tokensSeen, totalTokens, tokensSeen / seconds());
    }

    /** "3 of 8 partitions, 35,120 tokens/s": what the bar's own figures (tokens, time) leave out. */
    private String partitionsNote() {
        String done = partitionsSeen + " of " + partitions + " partitions";
        return tokensSeen == 0 ? done : done + String.format(Locale.ROOT, ", %,.0f tokens/s", tokensSeen / seconds());
    }

    private double seconds() {
        return (System.nanoTime() - start) / 1e9;
    }

    /**
     * The job is done: the bar full, or a last line with the rate over the whole job. (Listeners hear events after
     * the fact, so the last partitions' lines may not have come yet.)
     */
    synchronized void finish() {
        double seconds = seconds();
        if (bar != null) {
            bar.update(totalTokens, String.format(Locale.ROOT, "%d partitions, %,.0f tokens/s", partitions, totalTokens / seconds));
            bar.done();
        } else {
            System.err.printf(Locale.ROOT, "%s: done, %d partitions, %,d tokens in %.1f s, %,.0f tokens/s%n", label, partitions,
                    totalTokens, seconds, totalTokens / seconds);
        }
    }

    /** Stops listening; a bar the job did not finish shows where it stopped. */
    @Override
    public synchronized void close() {
        spark.removeSparkListener(this);
        if (bar != null) {
            bar.close();
        }
    }
}
