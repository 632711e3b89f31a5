package dev.loupe.load;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Files from a Hugging Face hub repo, through the same cache Python's huggingface_hub keeps (see
 * {@link HubCache}), so weights downloaded by either are found by both. Online, a file costs one HEAD
 * (its commit, etag and size) and a GET only when its blob is not cached (see {@link HubDownload}); offline,
 * or when the hub cannot be reached, the cache answers alone.
 */
public final class Hub {

    /** The public hub; HF_ENDPOINT points elsewhere (a mirror, or a fake one in tests). */
    static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    /** A download that receives nothing for this long is cut and resumed. */
    static final Duration STALL_TIMEOUT = Duration.ofSeconds(30);
    private static final int MAX_REDIRECTS = 5;

    private final HubCache cache;
    private final HubHttp http;
    private final boolean offline;
    private final Progress progress;

    /**
     * @param endpoint the hub's URL; null for the public hub
     * @param token an access token for gated and private repos, or null
     * @param offline true to use the cache only, sending nothing
     */
    public Hub(Path cacheDir, String endpoint, String token, boolean offline, Progress progress) {
        this(cacheDir, endpoint, token, offline, progress, REQUEST_TIMEOUT, STALL_TIMEOUT);
    }

    /** With other time limits, for tests. */
    Hub(Path cacheDir, String endpoint, String token, boolean offline, Progress progress, Duration requestTimeout,
            Duration stallTimeout) {
        this(new HubCache(cacheDir), new HubHttp(endpoint == null ? DEFAULT_ENDPOINT : endpoint, token, requestTimeout,
                stallTimeout, offline), offline, progress);
    }

    private Hub(HubCache cache, HubHttp http, boolean offline, Progress progress) {
        this.cache = cache;
        this.http = http;
        this.offline = offline;
        this.progress = progress == null ? Progress.none() : progress;
    }

    /**
     * The hub as Python's huggingface_hub sees it from this process's environment. Progress: a bar per file in a
     * notebook, else the lines of {@link Progress#console()} on stderr.
     */
    public static Hub fromEnvironment() {
        return fromEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /**
     * huggingface_hub's precedence: the cache is HF_HUB_CACHE, else HF_HOME/hub, else
     * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; the token is HF_TOKEN, else the file
     * {@code huggingface-cli login} writes (HF_TOKEN_PATH, else HF_HOME/token). Older names are honoured after
     * the current ones.
     */
    static Hub fromEnvironment(Map<String, String> env, Path home) {
        String hfHomeVar = first(env, "HF_HOME");
        String xdg = first(env, "XDG_CACHE_HOME");
        Path hfHome = hfHomeVar != null ? expand(hfHomeVar, home)
                : (xdg != null ? expand(xdg, home) : home.resolve(".cache")).resolve("huggingface");
        String hubCache = first(env, "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE");
        String token = first(env, "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN");
        if (token == null) {
            String tokenPath = first(env, "HF_TOKEN_PATH");
            token = readToken(tokenPath != null ? expand(tokenPath, home) : hfHome.resolve("token"));
        }
        return new Hub(hubCache != null ? expand(hubCache, home) : hfHome.resolve("hub"), first(env, "HF_ENDPOINT"),
                token, isTrue(first(env, "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")), Progress.forDownloads());
    }

    public Hub withProgress(Progress progress) {
        return new Hub(cache, http, offline, progress);
    }

    public Path cacheDir() {
        return cache.root;
    }

    String endpoint() {
        return http.endpoint.toString();
    }

    String token() {
        return http.token();
    }

    boolean offline() {
        return offline;
    }

    @Override
    public String toString() {
        return "Hub[cache=" + cache.root + ", endpoint=" + http.endpoint + ", offline=" + offline
                + ", token=" + (http.token() == null ? "none" : "set") + "]";
    }

    /**
     * Folder (snapshots/&lt;commit&gt;) holding {@code required} and whichever of {@code optional} exist,
     * downloading what is missing. {@code revision} is a branch, tag or commit; null means "main".
     */
    public Path snapshot(String repoId, String revision, List<String> required, List<String> optional) throws IOException {
        String rev = revision == null ? "main" : revision;
        HubCache.checkRepoId(repoId);
        HubCache.checkRevision(rev);
        required.forEach(f -> HubCache.checkFilename(repoId, f));
        optional.forEach(f -> HubCache.checkFilename(repoId, f));
        if (offline) {
            return cache.offlineSnapshot(repoId, rev, required, "HF_HUB_OFFLINE=1");
        }
        try {
            return fetch(repoId, rev, required, optional);
        } catch (Unreachable e) {
            return cache.offlineSnapshot(repoId, rev, required, e.reason);
        }
    }

    /**
     * The distinct shard file names that a sharded checkpoint's index (model.safetensors.index.json)
     * maps weights to, sorted.
     */
    public static List<String> shardFiles(Path indexJson) throws IOException {
        JsonElement map;
        try {
            map = JsonParser.parseString(Files.readString(indexJson)).getAsJsonObject().get("weight_map");
        } catch (JsonParseException | IllegalStateException e) {
            throw new IOException("Shard index " + indexJson + " is not a JSON object (" + e.getMessage() + ").");
        }
        if (map == null || !map.isJsonObject()) {
            throw new IOException("Shard index " + indexJson + " has no \"weight_map\" object naming each weight's file.");
        }
        Set<String> shards = new TreeSet<>();
        for (Map.Entry<String, JsonElement> e : ((JsonObject) map).entrySet()) {
            if (!e.getValue().isJsonPrimitive() || !e.getValue().getAsJsonPrimitive().isString()) {
                throw new IOException("Shard index " + indexJson + " maps weight '" + e.getKey() + "' to "
                        + e.getValue() + ", not to a file name.");
            }
            shards.add(e.getValue().getAsString());
        }
        return List.copyOf(shards);
    }

    /** What HEAD says of one file. {@code download} is where its bytes are: the hub, or a CDN. */
    private record Metadata(String commit, String etag, long size, URI download) {}

    /** The hub could not be asked: no connection, no DNS, a timeout, or the hub is down. */
    private static final class Unreachable extends Exception {
        final String reason;

        Unreachable(String reason) {
            super(reason, null, false, false);
            this.reason = reason;
        }
    }

    private Path fetch(String repoId, String rev, List<String> required, List<String> optional)
            throws IOException, Unreachable {
        // The first answer pins the commit: the other files are asked for at that commit, so all come from
        // one commit even if the branch moves meanwhile, and those already cached there need no request.
        String commit = HubCache.COMMIT.matcher(rev).matches() ? rev : null;
        Set<String> files = new LinkedHashSet<>(required);
        files.addAll(optional);
        for (String file : files) {
            boolean isRequired = required.contains(file);
            if (commit != null && (Files.exists(cache.pointer(repoId, commit, file))
                    || !isRequired && Files.exists(cache.noExist(repoId, commit, file)))) {
                continue;
            }
            Metadata m = head(repoId, commit != null ? commit : rev, file, rev, isRequired);
            if (m == null) {
                if (commit != null) {
                    cache.markAbsent(repoId, commit, file);
                }
                continue;
            }
            if (commit == null) {
                commit = m.commit();
                cache.writeRef(repoId, rev, commit);
            }
            Path pointer = cache.pointer(repoId, commit, file);
            if (Files.exists(pointer)) {
                continue;
            }
            Path blob = cache.blob(repoId, m.etag());
            if (!Files.exists(blob)) {
                try (Closeable lock = cache.lock(repoId, m.etag())) {
                    if (!Files.exists(blob)) { // another thread or process may have finished it meanwhile
                        new HubDownload(http, progress, repoId, file, m.download(), m.etag(), m.size(),
                                cache.incomplete(repoId, m.etag())).into(blob);
                    }
                }
            }
            cache.link(blob, pointer);
        }
        if (commit == null) {
            // Nothing was required and no optional file exists: whatever the cache knows of the revision.
            commit = cache.commitFor(repoId, rev);
            if (commit == null) {
                throw new IOException(repoId + " has none of " + String.join(", ", optional) + " at revision " + rev + ".");
            }
        }
        Path dir = cache.snapshotDir(repoId, commit);
        Files.createDirectories(dir);
        return dir;
    }

    /** HEAD of one file, asked at {@code urlRevision}; null when an optional file does not exist. */
    private Metadata head(String repoId, String urlRevision, String file, String rev, boolean required)
            throws IOException, Unreachable {
        URI uri = http.resolveUri(repoId, urlRevision, file);
        for (int hop = 0; ; hop++) {
            HttpResponse<Void> r;
            try {
                r = http.client.send(http.request(uri).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.discarding());
            } catch (IOException e) {
                throw new Unreachable(HubHttp.describe(uri, e));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("Interrupted while asking the hub for " + file + " of " + repoId);
            }
            int code = r.statusCode();
            String commit = r.headers().firstValue("X-Repo-Commit").orElse(null);
            String location = r.headers().firstValue("Location").orElse(null);
            boolean redirect = code >= 300 && code < 400 && location != null;
            if (redirect && commit == null && !HubHttp.isAbsolute(location) && hop < MAX_REDIRECTS) {
                uri = HubHttp.follow(uri, location); // a renamed repo: its new name answers the HEAD
                continue;
            }
            if (code == 401 || code == 403) {
                throw http.denied(repoId, file, code);
            }
            if (code == 404) {
                String error = r.headers().firstValue("X-Error-Code").orElse("");
                if (error.equals("RepositoryNotFound")) {
                    throw new IOException(repoId + " is not on the hub at " + http.endpoint + " (or it is private: set"
                            + " HF_TOKEN to a token that can read it).");
                }
                if (error.equals("RevisionNotFound")) {
                    throw new IOException(repoId + " has no revision " + rev + ".");
                }
                if (required) {
                    throw new IOException(repoId + " has no file " + file + " at revision " + rev + ".");
                }
                return null;
            }
            if (code >= 500 || code == 429) {
                throw new Unreachable(uri.getHost() + " answered HTTP " + code);
            }
            if (code >= 400 || code >= 300 && !redirect) {
                throw new IOException("The hub at " + http.endpoint + " answered HTTP " + code + " for " + file + " of "
                        + repoId + ".");
            }
            // An LFS file's X-Linked-Etag is its sha256; ETag then describes the redirect, not the file.
            String etag = HubHttp.normalizeEtag(r.headers().firstValue("X-Linked-Etag")
                    .or(() -> r.headers().firstValue("ETag")).orElse(null));
            if (commit == null || etag == null) {
                throw new IOException("The hub at " + http.endpoint + " answered for " + file + " of " + repoId
                        + " without " + (commit == null ? "X-Repo-Commit" : "an ETag") + ": is HF_ENDPOINT a Hugging"
                        + " Face hub, and is no proxy dropping headers?");
            }
            if (!HubCache.isSafeSegment(commit) || !HubCache.isSafeSegment(etag)) {
                throw new IOException("The hub at " + http.endpoint + " answered for " + file + " of " + repoId
                        + " with a commit or etag that cannot name a file: '" + commit + "', '" + etag + "'.");
            }
            long size = r.headers().firstValue("X-Linked-Size").or(() -> r.headers().firstValue("Content-Length"))
                    .map(HubHttp::parseSize).orElse(-1L);
            return new Metadata(commit, etag, size, redirect ? HubHttp.follow(uri, location) : uri);
        }
    }

    /** The first of these variables that is set and not blank. */
    private static String first(Map<String, String> env, String... names) {
        for (String name : names) {
            String v = env.get(name);
            if (v != null && !v.isBlank()) {
                return v.strip();
            }
        }
        return null;
    }

    private static String readToken(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.readString(file).strip() : null;
        } catch (IOException e) {
            return null; // an unreadable token file is as good as none; a gated repo will say so
        }
    }

    private static Path expand(String path, Path home) {
        return path.equals("~") ? home : path.startsWith("~/") ? home.resolve(path.substring(2)) : Path.of(path);
    }

    /** huggingface_hub's truth: 1, true, yes, on, in any case. */
    static boolean isTrue(String value) {
        return value != null && Set.of("1", "TRUE", "YES", "ON").contains(value.strip().toUpperCase(Locale.ROOT));
    }
}
