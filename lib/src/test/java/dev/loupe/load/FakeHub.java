package dev.loupe.load;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for the hub on 127.0.0.1 only: HEAD and GET of /{repo}/resolve/{revision}/{file} with the
 * headers the real hub sends, LFS files behind a 302 to /cdn/{sha256}, Range requests, repos that want a
 * token, 404s with the hub's X-Error-Code, and knobs to drop, stall or corrupt a download. Every request
 * is recorded.
 */
final class FakeHub implements AutoCloseable {

    record Request(String method, String path, String authorization, String range) {}

    final class Repo {
        final String id;
        final String commit;
        final Map<String, byte[]> files = new LinkedHashMap<>();
        final Set<String> lfs = ConcurrentHashMap.newKeySet();
        String token;

        Repo(String id) {
            this.id = id;
            this.commit = hex("SHA-1", id.getBytes(StandardCharsets.UTF_8));
        }

        /** A file kept in git: served directly, its etag the git blob id (sent weak, as the hub does). */
        Repo file(String name, byte[] content) {
            files.put(name, content);
            return this;
        }

        Repo file(String name, String content) {
            return file(name, content.getBytes(StandardCharsets.UTF_8));
        }

        /** A file kept in LFS: HEAD and GET answer 302 to /cdn/{sha256}, with X-Linked-Etag and X-Linked-Size. */
        Repo lfs(String name, byte[] content) {
            files.put(name, content);
            lfs.add(name);
            return this;
        }

        Repo token(String token) {
            this.token = token;
            return this;
        }

        String etag(String name) {
            byte[] content = files.get(name);
            return lfs.contains(name) ? sha256(content) : gitBlobId(content);
        }
    }

    final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Map<String, Repo> repos = new ConcurrentHashMap<>();
    private final Map<String, String> renamed = new ConcurrentHashMap<>();
    private final Map<String, byte[]> cdn = new ConcurrentHashMap<>();
    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();

    /** The next this-many CDN GETs send {@link #dropAfter} bytes, then close the connection. */
    final AtomicInteger drops = new AtomicInteger();
    volatile int dropAfter;
    /** The next this-many CDN GETs send {@link #dropAfter} bytes, then go silent for {@link #stallMillis}. */
    final AtomicInteger stalls = new AtomicInteger();
    volatile long stallMillis;
    /** CDN GETs answer 200 with the whole file even when asked for a range. */
    volatile boolean ignoreRange;
    /** Every request gets this status, when set. */
    volatile int failAll;
    /** Where LFS redirects point; relative by default, as a mirror may send. */
    volatile String cdnBase = "";

    FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(executor);
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    int port() {
        return server.getAddress().getPort();
    }

    Repo repo(String id) {
        return repos.computeIfAbsent(id, Repo::new);
    }

    /** Requests for {@code oldId} answer 307 to {@code newId}'s path, with no other header, as the hub does. */
    void rename(String oldId, String newId) {
        renamed.put(oldId, newId);
    }

    /** The CDN serves {@code served} for the file, while the hub still advertises the real sha256 and size. */
    void corrupt(Repo repo, String name, byte[] served) {
        cdn.put(repo.etag(name), served);
    }

    long count(String method) {
        return requests.stream().filter(r -> r.method().equals(method)).count();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange ex) throws IOException {
        try {
            respond(ex);
            ex.close();
        } catch (IOException e) {
            ex.close(); // the client went away: nothing to answer
        }
        // A Drop escapes unclosed: the server closes the connection of a handler that throws, mid-body.
    }

    private void respond(HttpExchange ex) throws IOException {
        String method = ex.getRequestMethod();
        String raw = ex.getRequestURI().getRawPath();
        requests.add(new Request(method, raw, ex.getRequestHeaders().getFirst("Authorization"),
                ex.getRequestHeaders().getFirst("Range")));
        if (failAll != 0) {
            ex.sendResponseHeaders(failAll, -1);
            return;
        }
        if (raw.startsWith("/cdn/")) {
            byte[] content = cdn.get(raw.substring(5));
            if (content == null) {
                ex.sendResponseHeaders(404, -1);
            } else {
                serve(ex, content, true);
            }
            return;
        }
        int at = raw.indexOf("/resolve/");
        int slash = at < 0 ? -1 : raw.indexOf('/', at + 9);
        if (slash < 0) {
            error(ex, 404, "EntryNotFound");
            return;
        }
        String repoId = decode(raw.substring(1, at));
        String revision = decode(raw.substring(at + 9, slash));
        String name = decode(raw.substring(slash + 1));
        if (renamed.containsKey(repoId)) {
            ex.getResponseHeaders().set("Location", "/" + renamed.get(repoId) + raw.substring(at));
            ex.sendResponseHeaders(307, -1);
            return;
        }
        Repo repo = repos.get(repoId);
        if (repo == null) {
            error(ex, 404, "RepositoryNotFound");
            return;
        }
        if (repo.token != null && !("Bearer " + repo.token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
            error(ex, 401, "GatedRepo");
            return;
        }
        if (!Set.of("main", "v1", "refs/pr/1", repo.commit).contains(revision)) {
            error(ex, 404, "RevisionNotFound");
            return;
        }
        ex.getResponseHeaders().set("X-Repo-Commit", repo.commit);
        byte[] content = repo.files.get(name);
        if (content == null) {
            error(ex, 404, "EntryNotFound");
            return;
        }
        if (repo.lfs.contains(name)) {
            String sha = sha256(content);
            cdn.putIfAbsent(sha, content);
            ex.getResponseHeaders().set("ETag", "\"" + gitBlobId(content) + "\"");
            ex.getResponseHeaders().set("X-Linked-Etag", "\"" + sha + "\"");
            ex.getResponseHeaders().set("X-Linked-Size", Long.toString(content.length));
            ex.getResponseHeaders().set("Location", cdnBase + "/cdn/" + sha);
            ex.sendResponseHeaders(302, -1);
            return;
        }
        ex.getResponseHeaders().set("ETag", "W/\"" + gitBlobId(content) + "\"");
        serve(ex, content, false);
    }

    private static final class Drop extends RuntimeException {
        Drop() {
            super("dropped on purpose", null, false, false);
        }
    }

    /** Serves bytes with Range support; for the CDN, the drop and stall knobs apply. */
    private void serve(HttpExchange ex, byte[] content, boolean isCdn) throws IOException {
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Content-Length", Integer.toString(content.length));
            ex.sendResponseHeaders(200, -1);
            return;
        }
        String range = ex.getRequestHeaders().getFirst("Range");
        int from = 0;
        if (range != null && !(isCdn && ignoreRange)) {
            from = Integer.parseInt(range.replaceFirst("^bytes=(\\d+)-$", "$1"));
            if (from >= content.length) {
                ex.sendResponseHeaders(416, -1);
                return;
            }
            ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
        }
        byte[] body = Arrays.copyOfRange(content, from, content.length);
        ex.sendResponseHeaders(from > 0 ? 206 : 200, body.length == 0 ? -1 : body.length);
        OutputStream out = ex.getResponseBody();
        boolean drop = isCdn && drops.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
        boolean stall = !drop && isCdn && stalls.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
        if (drop || stall) {
            out.write(body, 0, Math.min(dropAfter, body.length));
            out.flush();
            try {
                // Time for the bytes to reach the client before the drop; a stall waits much longer.
                Thread.sleep(stall ? stallMillis : 200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new Drop();
        }
        out.write(body);
        out.close();
    }

    private static void error(HttpExchange ex, int code, String errorCode) throws IOException {
        ex.getResponseHeaders().set("X-Error-Code", errorCode);
        ex.sendResponseHeaders(code, -1);
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    static String sha256(byte[] content) {
        return hex("SHA-256", content);
    }

    /** Git's object id for a file, which the hub sends as the ETag of files not in LFS. */
    static String gitBlobId(byte[] content) {
        byte[] header = ("blob " + content.length + "\0").getBytes(StandardCharsets.UTF_8);
        byte[] all = Arrays.copyOf(header, header.length + content.length);
        System.arraycopy(content, 0, all, header.length, content.length);
        return hex("SHA-1", all);
    }

    private static String hex(String algorithm, byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
