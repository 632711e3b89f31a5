package dev.loupe.load;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.net.ssl.SSLException;

/**
 * The HTTP side of {@link Hub}: one client that follows no redirect by itself, a token that goes to the
 * hub's own origin only, and failures told in a short phrase rather than a stack of causes.
 */
final class HubHttp {

    private static final String USER_AGENT = "loupe/0.1; java/" + Runtime.version().feature();

    final URI endpoint;
    final Duration requestTimeout;
    final Duration stallTimeout;
    final HttpClient client;
    private final String token;

    HubHttp(String endpoint, String token, Duration requestTimeout, Duration stallTimeout, boolean offline) {
        this.endpoint = endpointUri(endpoint);
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.requestTimeout = requestTimeout;
        this.stallTimeout = stallTimeout;
        // Offline, nothing is sent: no client, and no selector thread behind it.
        this.client = offline ? null : HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER) // Hub follows them, deciding where the token goes
                .connectTimeout(requestTimeout)
                .build();
    }

    String token() {
        return token;
    }

    /** {endpoint}/{repo}/resolve/{revision}/{file}, quoted as huggingface_hub quotes them. */
    URI resolveUri(String repoId, String revision, String file) {
        return URI.create(endpoint + "/" + repoId + "/resolve/" + encode(revision, false) + "/" + encode(file, true));
    }

    HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri)
                .timeout(requestTimeout)
                .header("User-Agent", USER_AGENT)
                .header("Accept-Encoding", "identity"); // sizes and hashes are of the bytes as stored
        // A CDN's signed URL needs no token, and must not see it.
        if (token != null && isHub(uri)) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    boolean isHub(URI uri) {
        return uri.getScheme().equalsIgnoreCase(endpoint.getScheme()) && uri.getHost().equalsIgnoreCase(endpoint.getHost())
                && port(uri) == port(endpoint);
    }

    IOException denied(String repoId, String file, int code) {
        return new IOException("Access to " + file + " of " + repoId + " was refused (HTTP " + code
                + "): the repo may be gated or private. Set HF_TOKEN to an access token that can read it"
                + (token == null ? " (none is set)" : " (the one set was refused)")
                + "; for a gated repo, first accept its terms on the repo's hub page.");
    }

    /** One short phrase for why a request failed. */
    static String describe(URI uri, IOException e) {
        String where = uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : "");
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnknownHostException || t instanceof UnresolvedAddressException) {
                return "unknown host " + uri.getHost();
            }
            if (t instanceof HttpConnectTimeoutException) {
                return "no connection to " + where + " in time";
            }
            if (t instanceof HttpTimeoutException) {
                return where + " did not answer in time";
            }
            if (t instanceof SSLException) {
                return "TLS with " + where + " failed: " + t.getMessage();
            }
        }
        if (e instanceof ConnectException) {
            return "cannot connect to " + where;
        }
        return "the connection to " + where + " failed (" + e.getClass().getSimpleName()
                + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")";
    }

    /** Where a Location header points; a relative one is taken from the URL that answered. */
    static URI follow(URI from, String location) throws IOException {
        try {
            return from.resolve(new URI(location));
        } catch (URISyntaxException e) {
            throw new IOException(from.getHost() + " redirected to '" + location + "', which is not a URL.");
        }
    }

    static boolean isAbsolute(String location) {
        try {
            return new URI(location).isAbsolute();
        } catch (URISyntaxException e) {
            return false;
        }
    }

    /** ETags come quoted and may be weak ({@code W/"..."}); the cache names blobs by the bare value. */
    static String normalizeEtag(String etag) {
        if (etag == null) {
            return null;
        }
        String e = etag.strip();
        if (e.startsWith("W/")) {
            e = e.substring(2);
        }
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) {
            e = e.substring(1, e.length() - 1);
        }
        return e.isEmpty() ? null : e;
    }

    static long parseSize(String value) {
        try {
            return Long.parseLong(value.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Percent-encodes as Python's urllib.parse.quote, keeping '/' only in file paths. */
    static String encode(String s, boolean keepSlash) {
        StringBuilder out = new StringBuilder();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if (c < 128 && (Character.isLetterOrDigit(c) || "-._~".indexOf(c) >= 0 || keepSlash && c == '/')) {
                out.append(c);
            } else {
                out.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    private static URI endpointUri(String endpoint) {
        String e = endpoint.strip();
        while (e.endsWith("/")) {
            e = e.substring(0, e.length() - 1);
        }
        URI uri;
        try {
            uri = new URI(e);
        } catch (URISyntaxException ex) {
            uri = null;
        }
        if (uri == null || uri.getHost() == null || !("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
            throw new IllegalArgumentException("The hub endpoint '" + endpoint + "' (HF_ENDPOINT) is not an http(s) URL.");
        }
        return uri;
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : u.getScheme().equalsIgnoreCase("https") ? 443 : 80;
    }
}
