package dev.loupe.load;

import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;

/**
 * The folder layout of Python's huggingface_hub cache, kept exactly so that Loupe and Python share one copy
 * of every file:
 * <pre>
 * {cache}/models--{org}--{name}/blobs/{etag}                   file contents, named by the hub's etag
 *                              /snapshots/{commit}/{filename}  relative symlink to ../../blobs/{etag}
 *                              /refs/{revision}                the commit the revision last resolved to
 *                              /.no_exist/{commit}/{filename}  empty: the file is known not to exist there
 * {cache}/.locks/models--{org}--{name}/{etag}.lock
 * </pre>
 * Everything lands by rename, so a reader sees a file whole or not at all.
 */
final class HubCache {

    static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    /** huggingface_hub's rule for repo ids: an optional owner, a name, word characters, '-' and '.'. */
    private static final Pattern REPO_ID = Pattern.compile("([\\w.-]+/)?[\\w.-]{1,96}");
    /** Names taken from the hub's answers (etags, commits) become file names: one plain segment only. */
    private static final Pattern SEGMENT = Pattern.compile("[\\w.+=-]{1,255}");

    /** One lock per blob inside this JVM; FileChannel locks only keep other processes out. */
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    final Path root;

    HubCache(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    Path repoDir(String repoId) {
        return root.resolve("models--" + repoId.replace("/", "--"));
    }

    Path blob(String repoId, String etag) {
        return repoDir(repoId).resolve("blobs").resolve(etag);
    }

    Path incomplete(String repoId, String etag) {
        return repoDir(repoId).resolve("blobs").resolve(etag + ".incomplete");
    }

    Path snapshotDir(String repoId, String commit) {
        return repoDir(repoId).resolve("snapshots").resolve(commit);
    }

    Path pointer(String repoId, String commit, String filename) {
        return snapshotDir(repoId, commit).resolve(filename);
    }

    Path noExist(String repoId, String commit, String filename) {
        return repoDir(repoId).resolve(".no_exist").resolve(commit).resolve(filename);
    }

    /**
     * The commit a revision names in the cache: the revision itself when it is a commit with a snapshot
     * folder, else what refs/{revision} holds; null when neither is there.
     */
    String commitFor(String repoId, String revision) throws IOException {
        if (COMMIT.matcher(revision).matches() && Files.isDirectory(snapshotDir(repoId, revision))) {
            return revision;
        }
        Path ref = repoDir(repoId).resolve("refs").resolve(revision);
        if (!Files.isRegularFile(ref)) {
            return null;
        }
        // Any plain folder name is accepted, so a hand-made snapshot need not be named by a real commit.
        String commit = Files.readString(ref).trim();
        return SEGMENT.matcher(commit).matches() ? commit : null;
    }

    /** Records the commit a revision resolved to, as Python does: only for names that are not commits. */
    void writeRef(String repoId, String revision, String commit) throws IOException {
        if (revision.equals(commit)) {
            return;
        }
        Path ref = repoDir(repoId).resolve("refs").resolve(revision);
        if (Files.isRegularFile(ref) && Files.readString(ref).trim().equals(commit)) {
            return;
        }
        Files.createDirectories(ref.getParent());
        Path temp = Files.createTempFile(ref.getParent(), "." + ref.getFileName(), ".tmp");
        try {
            Files.writeString(temp, commit);
            Files.move(temp, ref, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Puts {@code blob} at {@code pointer}: a relative symlink, or a copy where symlinks are not allowed. */
    void link(Path blob, Path pointer) throws IOException {
        Path dir = pointer.getParent();
        Files.createDirectories(dir);
        Path temp = dir.resolve("." + pointer.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            try {
                Files.createSymbolicLink(temp, dir.relativize(blob));
            } catch (UnsupportedOperationException | IOException | SecurityException e) {
                // Windows without developer mode, FAT and some network file systems.
                Files.deleteIfExists(temp);
                Files.copy(blob, temp);
            }
            Files.move(temp, pointer, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Marks a file as absent at a commit (an empty file, as Python leaves), so later calls need not ask. */
    void markAbsent(String repoId, String commit, String filename) throws IOException {
        Path marker = noExist(repoId, commit, filename);
        Files.createDirectories(marker.getParent());
        try {
            Files.createFile(marker);
        } catch (FileAlreadyExistsException e) {
            // another thread or process marked it first
        }
    }

    /**
     * Holds the blob's lock while a download runs, so two threads or two Loupe processes never write one
     * {@code .incomplete} file at once. The lock file is where Python keeps its own.
     */
    Closeable lock(String repoId, String etag) throws IOException {
        Path dir = Files.createDirectories(root.resolve(".locks").resolve(repoDir(repoId).getFileName()));
        // The real path, so two Hubs reaching one cache by different paths share the in-process lock.
        Path file = dir.toRealPath().resolve(etag + ".lock");
        ReentrantLock inProcess = IN_PROCESS.computeIfAbsent(file, f -> new ReentrantLock());
        try {
            inProcess.lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("Interrupted while waiting for another download of " + etag);
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock held;
            try {
                held = channel.lock();
            } catch (IOException e) {
                held = null; // a file system without locks: the in-process lock still holds
            }
            FileChannel opened = channel;
            FileLock release = held;
            return () -> {
                try {
                    if (release != null) {
                        release.release();
                    }
                    opened.close();
                } finally {
                    inProcess.unlock();
                }
            };
        } catch (IOException | RuntimeException e) {
            if (channel != null) {
                channel.close();
            }
            inProcess.unlock();
            throw e;
        }
    }

    /**
     * The cached snapshot folder for a revision when every required file is in it; otherwise one IOException
     * whose message says what is missing and how to get it. {@code whyOffline} says why the hub was not asked.
     */
    Path offlineSnapshot(String repoId, String revision, List<String> required, String whyOffline) throws IOException {
        String commit = commitFor(repoId, revision);
        Path snapshot = commit == null ? null : snapshotDir(repoId, commit);
        List<String> missing = new ArrayList<>();
        for (String file : required) {
            if (snapshot == null || !Files.exists(snapshot.resolve(file))) {
                missing.add(file);
            }
        }
        if (snapshot != null && Files.isDirectory(snapshot) && missing.isEmpty()) {
            return snapshot;
        }
        String what = repoId + (revision.equals("main") ? "" : " at revision " + revision)
                + (snapshot != null && Files.isDirectory(snapshot) ? " is only partly in" : " is not in");
        throw new IOException(what + " the Hugging Face cache (" + root + ") and the hub cannot be reached ("
                + whyOffline + "). Missing: " + (missing.isEmpty() ? "refs/" + revision : String.join(", ", missing))
                + ". Run once with network access, or place the files under "
                + repoDir(repoId).resolve("snapshots") + File.separator + "<commit>" + File.separator
                + " with refs/" + revision + " naming <commit>.");
    }

    static void checkRepoId(String repoId) {
        if (repoId == null || !REPO_ID.matcher(repoId).matches() || repoId.contains("--") || repoId.contains("..")
                || repoId.endsWith(".git")) {
            throw new IllegalArgumentException("'" + repoId + "' is not a Hugging Face repo id (expected name or"
                    + " owner/name: letters, digits, '_', '-' and '.', without '--' or '..')");
        }
    }

    static void checkRevision(String revision) {
        if (revision.isEmpty() || !isSafeRelativePath(revision)) {
            throw new IllegalArgumentException("'" + revision + "' is not a revision (a branch, tag or commit)");
        }
    }

    static void checkFilename(String repoId, String filename) {
        if (filename == null || filename.isEmpty() || !isSafeRelativePath(filename)) {
            throw new IllegalArgumentException("'" + filename + "' is not a file name within " + repoId
                    + " (expected a relative path such as config.json or onnx/model.onnx)");
        }
    }

    /** A name from the hub's answer that will name a file or folder in the cache. */
    static boolean isSafeSegment(String name) {
        return name != null && SEGMENT.matcher(name).matches() && !name.equals(".") && !name.equals("..");
    }

    /** Relative, '/'-separated, with no empty, "." or ".." segment: it cannot leave the folder it is put in. */
    static boolean isSafeRelativePath(String path) {
        if (path.startsWith("/") || path.contains("\\") || path.indexOf(':') >= 0 || path.indexOf('\0') >= 0) {
            return false;
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return false;
            }
        }
        return true;
    }
}
