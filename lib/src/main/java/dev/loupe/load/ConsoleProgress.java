package dev.loupe.load;

import dev.loupe.display.Html;

import java.io.PrintStream;

/** {@link Progress#console()}: plain lines, so it reads the same in a terminal, a log file and a notebook. */
final class ConsoleProgress implements Progress {

    /** Without a size, a line per this many bytes. */
    static final long UNKNOWN_SIZE_STEP = 100L * 1000 * 1000;

    private final PrintStream out;
    private String file;
    private long total;
    private long nextMark;

    ConsoleProgress(PrintStream out) {
        this.out = out;
    }

    @Override
    public void start(String file, long totalBytes) {
        this.file = file;
        this.total = totalBytes;
        this.nextMark = 1;
        out.println("Downloading " + file + " (" + (totalBytes >= 0 ? Html.bytes(totalBytes) : "size unknown") + ")");
    }

    @Override
    public void advance(long bytesSoFar) {
        if (file == null) {
            return;
        }
        if (total > 0) {
            // nextMark counts tenths; a jump over several tenths prints one line, for the last one passed.
            long tenths = Math.min(10, bytesSoFar * 10 / total);
            if (tenths >= nextMark && tenths < 10) {
                out.println("  " + file + ": " + tenths * 10 + "% (" + Html.bytes(bytesSoFar) + " of " + Html.bytes(total) + ")");
                nextMark = tenths + 1;
            }
        } else if (total < 0 && bytesSoFar >= nextMark * UNKNOWN_SIZE_STEP) {
            out.println("  " + file + ": " + Html.bytes(bytesSoFar));
            nextMark = bytesSoFar / UNKNOWN_SIZE_STEP + 1;
        }
    }

    @Override
    public void done() {
        if (file != null) {
            out.println("  " + file + ": done");
            file = null;
        }
    }
}
