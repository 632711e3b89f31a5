package dev.loupe.patching;

import dev.loupe.display.ProgressBar;

/**
 * Progress of a sweep, counted in patched runs: a bar (in place in a notebook, a line on a console) appears once the
 * sweep has run for {@value #QUIET_SECONDS} seconds, so that the many quick sweeps of a notebook print nothing.
 */
final class SweepProgress implements AutoCloseable {

    static final int QUIET_SECONDS = 2;

    private final String label;
    private final long total;
    private final long start = System.nanoTime();
    private ProgressBar bar;
    private long done;

    SweepProgress(String label, long total) {
        this.label = label;
        this.total = total;
    }

    void advance(long runs) {
        done += runs;
        if (bar == null && System.nanoTime() - start > QUIET_SECONDS * 1_000_000_000L && done < total) {
            bar = ProgressBar.start(label, total);
        }
        if (bar != null) {
            bar.update(done);
        }
    }

    /** Finished when every run was counted; otherwise (an exception) the bar shows where it stopped. */
    @Override
    public void close() {
        if (bar != null && done >= total) {
            bar.done();
        } else if (bar != null) {
            bar.close();
        }
    }
}
