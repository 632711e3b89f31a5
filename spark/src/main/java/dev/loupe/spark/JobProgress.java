package dev.loupe.spark;

import dev.loupe.display.Display;
import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;

import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.util.LongAccumulator;

import java.util.Locale;

import scala.jdk.javaapi.CollectionConverters;

/**
 * A job's progress as its partitions finish (partitions done, tokens, tokens/s): in a notebook one output with a bar,
 * replaced in place; on a console a line per partition. Tasks count their tokens and themselves in two
 * accumulators; the driver hears each task's updates when it ends, so nothing but two numbers travels.
 */
final class JobProgress extends SparkListener implements AutoCloseable {

    final LongAccumulator tokens;
    final LongAccumulator partitionsDone;
    private final SparkContext spark;
    private final String label;
    private final int partitions;
    private final long totalTokens;
    private final long start = System.nanoTime();
    /** The notebook output replaced in place; null on a console. */
    private final String displayId;
    private long tokensSeen;
    private long partitionsSeen;

    JobProgress(SparkContext spark, String label, int partitions, long totalTokens) {
        this.spark = spark;
        this.label = label;
        this.partitions = partitions;
        this.totalTokens = totalTokens;
        tokens = spark.longAccumulator(label + " tokens");
        partitionsDone = spark.longAccumulator(label + " partitions");
        displayId = Display.sink().supportsUpdates() ? Display.display(bundle(line())) : null;
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
        if (displayId != null) {
            Display.update(displayId, bundle(line()));
        } else {
            System.err.println(line());
        }
    }

    /** "maxact: 3 of 8 partitions, 1,234,567 of 9,876,543 tokens, 35,120 tokens/s". */
    synchronized String line() {
        double seconds = (System.nanoTime() - start) / 1e9;
        return String.format(Locale.ROOT, "%s: %d of %d partitions, %,d of %,d tokens, %,.0f tokens/s", label, partitionsSeen,
                partitions, tokensSeen, totalTokens, tokensSeen / seconds);
    }

    /**
     * The job is done: the bar full, or a last line with the rate over the whole job. (Listeners hear events after
     * the fact, so the last partitions' lines may not have come yet.)
     */
    synchronized void finish() {
        double seconds = (System.nanoTime() - start) / 1e9;
        String done = String.format(Locale.ROOT, "%s: done, %d partitions, %,d tokens in %.1f s, %,.0f tokens/s", label, partitions,
                totalTokens, seconds, totalTokens / seconds);
        tokensSeen = totalTokens;
        if (displayId != null) {
            Display.update(displayId, bundle(done));
        } else {
            System.err.println(done);
        }
    }

    private MimeBundle bundle(String line) {
        double fraction = totalTokens == 0 ? 0 : (double) tokensSeen / totalTokens;
        return MimeBundle.text(line).withHtml(String.format(Locale.ROOT, "<div style=\"%s\"><progress max=\"1\" value=\"%.4f\""
                + " style=\"width:16em;vertical-align:middle\"></progress> %s</div>", Html.FONT, fraction, Html.escape(line)));
    }

    @Override
    public synchronized void close() {
        spark.removeSparkListener(this);
    }
}
