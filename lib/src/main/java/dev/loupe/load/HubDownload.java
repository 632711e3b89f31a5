package dev.loupe.load;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One file's download into its blob. Bytes go to {@code blobs/{etag}.incomplete}; each GET asks for the
 * rest with {@code Range: bytes=N-} (a 206 appends, a 200 starts over); a dropped or stalled connection is
 * retried a few times; the part becomes the blob by rename only once its size and, for LFS files (whose etag
 * is their sha256), its hash are right. A part left by a failure stays for the next run to resume.
 */
final class HubDownload {

    private static final int MAX_ATTEMPTS = 5;
    private static final int MAX_REDIRECTS = 5;

    private final HubHttp http;
    private final Progress progress;
    private final String repoId;
    private final String file;
    private final URI from;
    private final String etag;
    private final long size;
    private final Path part;
    private final MessageDigest sha;
    /** How many bytes of the part file {@link #sha} has seen; -1 for none yet. */
    private long hashed = -1;

    HubDownload(HubHttp http, Progress progress, String repoId, String file, URI from, String etag, long size, Path part) {
        this.http = http;
        this.progress = progress;
        this.repoId = repoId;
        this.file = file;
        this.from = from;
        this.etag = etag;
        this.size = size;
        this.part = part;
        this.sha = HubCache.SHA256.matcher(etag).matches() ? sha256() : null;
    }

    /** Downloads, verifies and renames the part to {@code blob}. */
    void into(Path blob) throws IOException {
        Files.createDirectories(part.getParent());
        String label = repoId + "/" + file;
        progress.start(label, size);
        for (int attempt = 1; ; attempt++) {
            String failure = attempt();
            if (failure == null) {
                break;
            }
            if (Thread.currentThread().isInterrupted()) {
                throw interrupted();
            }
            if (attempt == MAX_ATTEMPTS) {
                throw new IOException("Downloading " + label + " stopped at " + (Files.exists(part) ? Files.size(part) : 0)
                        + " of " + (size >= 0 ? size : "?") + " bytes (" + failure + ", " + MAX_ATTEMPTS + " tries); the part"
                        + " is kept in " + part + " and the next run resumes from it.");
            }
            pause(attempt - 1);
        }
        verify();
        Files.move(part, blob, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        progress.done();
    }

    /** One GET from where the part file ends; null once the file is whole, else why this attempt failed. */
    private String attempt() throws IOException {
        long have = Files.exists(part) ? Files.size(part) : 0;
        if (size >= 0 && have > size) {
            Files.delete(part); // longer than the file: not a prefix of it
            have = 0;
        }
        if (size > 0 && have == size) {
            if (sha != null && hashed != have) {
                rehash(have); // a whole part left by an earlier run
            }
            return null;
        }
        HttpResponse<InputStream> r;
        URI uri = from;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder request = http.request(uri).GET();
            if (have > 0) {
                request.header("Range", "bytes=" + have + "-");
            }
            try {
                r = http.client.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (IOException e) {
                return HubHttp.describe(uri, e);
            } catch (InterruptedException e) {
                throw interrupted();
            }
            String location = r.headers().firstValue("Location").orElse(null);
            if (r.statusCode() < 300 || r.statusCode() >= 400 || location == null || hop == MAX_REDIRECTS) {
                break;
            }
            r.body().close();
            uri = HubHttp.follow(uri, location);
        }
        try (InputStream in = r.body()) {
            int code = r.statusCode();
            if (code == 416) {
                Files.deleteIfExists(part); // the server will not resume from here: start over
                return "HTTP 416 for a resume";
            }
            if ((code == 401 || code == 403) && http.isHub(uri)) {
                throw http.denied(repoId, file, code);
            }
            if (code == 401 || code == 403) {
                throw new IOException("Downloading " + file + " of " + repoId + ": " + uri.getHost() + " refused the"
                        + " download link (HTTP " + code + "); links expire, so run again for a fresh one.");
            }
            if (code >= 500 || code == 429) {
                return uri.getHost() + " answered HTTP " + code;
            }
            if (code != 200 && code != 206) {
                throw new IOException("Downloading " + file + " of " + repoId + ": " + uri.getHost() + " answered HTTP "
                        + code + ".");
            }
            // A 206 continues the part if it starts where the part ends; a 200 is the whole file again.
            String expectedRange = "bytes " + have + "-";
            boolean append = code == 206 && have > 0 && r.headers().firstValue("Content-Range")
                    .map(v -> v.startsWith(expectedRange)).orElse(false);
            if (code == 206 && !append) {
                Files.deleteIfExists(part);
                return "a resume that did not start at byte " + have;
            }
            long done = append ? have : 0;
            if (sha != null && hashed != done) {
                rehash(done);
            }
            progress.advance(done);
            return copy(in, append, done, uri);
        }
    }

    /** Streams the body into the part file; a failure to read is a reason to retry, one to write is not. */
    private String copy(InputStream in, boolean append, long done, URI uri) throws IOException {
        // HttpClient has no read timeout for a body, so a watchdog closes a stream that stops moving.
        AtomicLong lastRead = new AtomicLong(System.nanoTime());
        AtomicBoolean stalled = new AtomicBoolean();
        long stallNanos = http.stallTimeout.toNanos();
        long period = Math.max(50, http.stallTimeout.toMillis() / 4);
        ScheduledFuture<?> watch = Watchdog.EXECUTOR.scheduleWithFixedDelay(() -> {
            if (System.nanoTime() - lastRead.get() > stallNanos && !stalled.getAndSet(true)) {
                try {
                    in.close(); // unblocks the read below
                } catch (IOException ignored) {
                    // closing is all that is wanted
                }
            }
        }, period, period, TimeUnit.MILLISECONDS);
        try (OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buffer = new byte[1 << 16];
            while (true) {
                int n;
                try {
                    n = in.read(buffer);
                } catch (IOException e) {
                    return stalled.get() ? stallMessage() : HubHttp.describe(uri, e);
                }
                if (n < 0) {
                    break;
                }
                lastRead.set(System.nanoTime());
                out.write(buffer, 0, n);
                if (sha != null) {
                    sha.update(buffer, 0, n);
                }
                done += n;
                hashed = done;
                progress.advance(done);
            }
        } finally {
            watch.cancel(false);
        }
        if (stalled.get()) {
            return stallMessage();
        }
        if (size >= 0 && done < size) {
            return "the connection closed after " + done + " of " + size + " bytes";
        }
        return null;
    }

    private String stallMessage() {
        long ms = http.stallTimeout.toMillis();
        return "nothing received for " + (ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms");
    }

    /** Brings the hash to the first {@code bytes} of the part file, for an attempt that appends to it. */
    private void rehash(long bytes) throws IOException {
        sha.reset();
        hashed = 0;
        if (bytes == 0) {
            return;
        }
        try (InputStream in = Files.newInputStream(part)) {
            byte[] buffer = new byte[1 << 16];
            long left = bytes;
            int n;
            while (left > 0 && (n = in.read(buffer, 0, (int) Math.min(buffer.length, left))) > 0) {
                sha.update(buffer, 0, n);
                left -= n;
            }
        }
        hashed = bytes;
    }

    /** Size and, for LFS files, sha256; a corrupt part is deleted, since resuming it cannot mend it. */
    private void verify() throws IOException {
        long actualSize = Files.size(part);
        if (size >= 0 && actualSize != size) {
            Files.deleteIfExists(part);
            throw new IOException("Downloaded " + file + " of " + repoId + " is " + actualSize + " bytes but the hub said "
                    + size + "; deleted it, run again to retry.");
        }
        if (sha != null) {
            String actual = HexFormat.of().formatHex(sha.digest());
            if (!actual.equals(etag)) {
                Files.deleteIfExists(part);
                throw new IOException("Downloaded " + file + " of " + repoId + " does not match its checksum: expected"
                        + " sha256 " + etag + ", got " + actual + ". Deleted it; run again to retry.");
            }
        }
    }

    /** Waits before another try: none after the first failure (a dropped connection is often a one-off). */
    private void pause(int seconds) throws InterruptedIOException {
        try {
            Thread.sleep(seconds * 1000L);
        } catch (InterruptedException e) {
            throw interrupted();
        }
    }

    private InterruptedIOException interrupted() {
        Thread.currentThread().interrupt();
        return new InterruptedIOException("Interrupted while downloading " + file + " of " + repoId);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("Every Java has SHA-256", e);
        }
    }

    /** One daemon thread that cuts stalled downloads for every Hub; started on first use. */
    private static final class Watchdog {
        static final ScheduledExecutorService EXECUTOR = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "loupe-hub-watchdog");
            t.setDaemon(true);
            return t;
        });
    }
}
