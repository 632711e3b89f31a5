package dev.loupe.display;

import java.util.Locale;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;

/**
 * A progress bar that is drawn once and then updated in place in a notebook, and prints plain lines on a
 * console:
 *
 * <pre>{@code
 * var bar = ProgressBar.start("Training", steps);
 * for (int i = 0; i < steps; i++) { ...; bar.update(i + 1); }
 * bar.done();
 * }</pre>
 *
 * Where the {@link Display#sink() sink} replaces outputs in place (a notebook), the bar is shown with
 * {@link Display#display} and redrawn with {@link Display#update} at most {@value #MAX_UPDATES_PER_SECOND} times a
 * second, however often {@code update} is called. Elsewhere (a console, a log) it prints a line at the start, one
 * each time another tenth is passed, and one at the end. {@code try (var bar = ProgressBar.start(...))} ends a bar
 * that did not finish as stopped. Calls may come from any thread.
 */
public final class ProgressBar implements Displayable, AutoCloseable {

    public static final int MAX_UPDATES_PER_SECOND = 10;
    static final long MIN_UPDATE_NANOS = 1_000_000_000L / MAX_UPDATES_PER_SECOND;
    /** On a console, without a total: a line at most this often. */
    static final long CONSOLE_UNKNOWN_TOTAL_NANOS = 10_000_000_000L;

    private enum State { RUNNING, DONE, STOPPED }

    private final String label;
    private final long total;
    private final LongFunction<String> amount;
    private final LongSupplier clock;
    private final boolean inPlace;
    private final long startNanos;
    private final String displayId;
    private long value;
    /** A few words after the amount (tqdm's postfix), or null. */
    private String note;
    private long lastSentNanos;
    private long lastTenth;
    private State state = State.RUNNING;

    private ProgressBar(String label, long total, LongFunction<String> amount, LongSupplier clock) {
        this.label = label;
        this.total = total;
        this.amount = amount;
        this.clock = clock;
        this.inPlace = Display.sink().supportsUpdates();
        this.startNanos = clock.getAsLong();
        this.lastSentNanos = startNanos;
        this.displayId = Display.display(mimeBundle());
    }

    /** Shows a bar for {@code total} steps (0 or less when the total is unknown) and returns it. */
    public static ProgressBar start(String label, long total) {
        return new ProgressBar(label, total, ProgressBar::count, System::nanoTime);
    }

    /** A bar for a number of bytes: amounts show as {@code 12.3 MB of 548.1 MB}. */
    public static ProgressBar startBytes(String label, long totalBytes) {
        return new ProgressBar(label, totalBytes, Html::bytes, System::nanoTime);
    }

    /** With a clock of our choosing, for tests. */
    static ProgressBar start(String label, long total, LongSupplier clock) {
        return new ProgressBar(label, total, ProgressBar::count, clock);
    }

    static ProgressBar start(String label, long total, LongFunction<String> amount, LongSupplier clock) {
        return new ProgressBar(label, total, amount, clock);
    }

    /** Sets how far along it is (steps done, not a fraction); a no-op once the bar is done or stopped. */
    public synchronized void update(long done) {
        if (state != State.RUNNING) {
            return;
        }
        value = done;
        long now = clock.getAsLong();
        if (inPlace) {
            if (now - lastSentNanos >= MIN_UPDATE_NANOS) {
                send(now);
            }
        } else if (total > 0) {
            long tenth = Math.min(10, Math.max(0, done) * 10 / total);
            if (tenth > lastTenth && tenth < 10) {
                lastTenth = tenth;
                send(now);
            }
        } else if (now - lastSentNanos >= CONSOLE_UNKNOWN_TOTAL_NANOS) {
            send(now);
        }
    }

    /**
     * Sets how far along it is and a few words shown after the amount (tqdm's postfix: partitions done, a rate, the
     * loss); a no-op once the bar is done or stopped.
     */
    public synchronized void update(long done, String note) {
        if (state == State.RUNNING) {
            this.note = note;
        }
        update(done);
    }

    /** Moves it on by {@code steps}. */
    public synchronized void advance(long steps) {
        update(value + steps);
    }

    /** Marks it finished (at the total, when there is one) and shows that at once. */
    public synchronized void done() {
        if (state != State.RUNNING) {
            return;
        }
        if (total > 0) {
            value = Math.max(value, total);
        }
        state = State.DONE;
        send(clock.getAsLong());
    }

    /** Ends a bar that is still running as stopped where it was (a finished bar is left as it is). */
    @Override
    public synchronized void close() {
        if (state == State.RUNNING) {
            state = State.STOPPED;
            send(clock.getAsLong());
        }
    }

    /** The fraction done, in [0, 1]; NaN when the total is unknown. */
    public synchronized double fraction() {
        return total > 0 ? Math.max(0, Math.min(1, (double) value / total)) : Double.NaN;
    }

    public synchronized long value() {
        return value;
    }

    private void send(long now) {
        lastSentNanos = now;
        Display.update(displayId, mimeBundle());
    }

    @Override
    public synchronized MimeBundle mimeBundle() {
        return MimeBundle.text(text()).withHtml(html());
    }

    /** {@code Training: 42% (420 of 1,000) 3.1 s, about 4.3 s left}. */
    synchronized String text() {
        long elapsed = clock.getAsLong() - startNanos;
        StringBuilder b = new StringBuilder(label).append(": ");
        if (state == State.DONE) {
            b.append("done, ").append(amount.apply(value)).append(" in ").append(duration(elapsed));
            return withNote(b);
        }
        if (state == State.STOPPED) {
            b.append("stopped at ");
        }
        if (total > 0) {
            b.append(String.format(Locale.ROOT, "%d%% (%s of %s)", (int) Math.floor(fraction() * 100),
                    amount.apply(value), amount.apply(total)));
        } else {
            b.append(amount.apply(value));
        }
        b.append(' ').append(duration(elapsed));
        String left = timeLeft(elapsed);
        if (state == State.RUNNING && left != null) {
            b.append(", about ").append(left).append(" left");
        }
        return withNote(b);
    }

    private String withNote(StringBuilder text) {
        return note == null ? text.toString() : text.append("; ").append(note).toString();
    }

    private String timeLeft(long elapsed) {
        double f = fraction();
        if (!(f >= 0.01) || f >= 1 || elapsed < 500_000_000L) {
            return null;
        }
        return duration((long) (elapsed * (1 - f) / f));
    }

    private String html() {
        double f = fraction();
        String fill = switch (state) {
            case DONE -> "#3a9a5b";
            case STOPPED -> "#c77c2e";
            case RUNNING -> "#3b7dd8";
        };
        double width = state == State.DONE ? 100 : Double.isNaN(f) ? 0 : f * 100;
        String text = text();
        String detail = text.substring(label.length() + 2);
        return "<div style=\"" + Html.FONT + "display:flex;align-items:center;gap:10px;margin:2px 0;\">"
                + "<span>" + Html.escape(label) + "</span>"
                + "<div role=\"progressbar\" aria-valuemin=\"0\" aria-valuemax=\"100\" aria-valuenow=\""
                + (int) Math.round(width) + "\" style=\"flex:0 0 240px;width:240px;height:10px;border-radius:5px;"
                + "background:rgba(128,128,128,.25);overflow:hidden;\"><div style=\"height:100%;width:"
                + String.format(Locale.ROOT, "%.1f", width) + "%;background:" + fill + ";\"></div></div>"
                + "<span style=\"font-variant-numeric:tabular-nums;" + Html.MUTED + "\">" + Html.escape(detail)
                + "</span></div>";
    }

    private static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** {@code 850 ms}, {@code 3.1 s}, {@code 2 min 05 s}, {@code 1 h 02 min}. */
    static String duration(long nanos) {
        long ms = nanos / 1_000_000;
        if (ms < 1000) {
            return ms + " ms";
        }
        if (ms < 60_000) {
            return String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
        }
        long s = ms / 1000;
        if (s < 3600) {
            return String.format(Locale.ROOT, "%d min %02d s", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%d h %02d min", s / 3600, (s % 3600) / 60);
    }
}
