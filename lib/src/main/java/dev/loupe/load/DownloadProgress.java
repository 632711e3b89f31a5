package dev.loupe.load;

import dev.loupe.display.Display;
import dev.loupe.display.ProgressBar;

/**
 * {@link Progress#forDownloads()}: in a notebook a bar per file, updated in place; elsewhere exactly the console
 * lines of {@link Progress#console()}. The choice is made for each file, when it starts.
 */
final class DownloadProgress implements Progress {

    private ProgressBar bar;
    private Progress console;

    @Override
    public void start(String file, long totalBytes) {
        if (Display.sink().supportsUpdates()) {
            console = null;
            bar = ProgressBar.startBytes("Downloading " + file, totalBytes);
        } else {
            bar = null;
            console = Progress.console();
            console.start(file, totalBytes);
        }
    }

    @Override
    public void advance(long bytesSoFar) {
        if (bar != null) {
            bar.update(bytesSoFar);
        } else if (console != null) {
            console.advance(bytesSoFar);
        }
    }

    @Override
    public void done() {
        if (bar != null) {
            bar.done();
            bar = null;
        } else if (console != null) {
            console.done();
            console = null;
        }
    }
}
