package dev.loupe.load;

/**
 * Hears how a download is going. {@link Hub} calls {@link #start} once per file it downloads,
 * {@link #advance} as bytes arrive (with the running total, so a resumed download starts past zero, and
 * a restarted one may go back), then {@link #done} when the file is whole and verified. A failed download
 * gets no {@code done}. Calls for one file come from the thread that called {@link Hub#snapshot}.
 */
public interface Progress {

    /**
     * @param file the repo id and file name, e.g. {@code gpt2/model.safetensors}
     * @param totalBytes the file's size, or -1 when the hub did not say
     */
    void start(String file, long totalBytes);

    void advance(long bytesSoFar);

    void done();

    /** Plain lines on standard error: one at the start, about one every 10%, one at the end. */
    static Progress console() {
        return new ConsoleProgress(System.err);
    }

    /**
     * Download progress for the hub: in a notebook a bar per file, updated in place; elsewhere exactly the
     * console lines of {@link #console()}. The choice is made for each file, when it starts.
     */
    static Progress forDownloads() {
        return new DownloadProgress();
    }

    /** Says nothing. */
    static Progress none() {
        return new Progress() {
            @Override
            public void start(String file, long totalBytes) {}

            @Override
            public void advance(long bytesSoFar) {}

            @Override
            public void done() {}
        };
    }
}
