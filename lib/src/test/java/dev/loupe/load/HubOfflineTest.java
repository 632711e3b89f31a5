package dev.loupe.load;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Offline (HF_HUB_OFFLINE) and an unreachable hub: the cache answers alone, or one line says what is missing. */
class HubOfflineTest {

    @TempDir
    Path tmp;

    private FakeHub fake;
    private FakeHub.Repo repo;
    private Path cache;
    private final List<String> required = List.of("config.json", "model.safetensors");
    private final List<String> optional = List.of("generation_config.json");

    @BeforeEach
    void start() throws IOException {
        fake = new FakeHub();
        repo = fake.repo("gpt2").file("config.json", "{}").lfs("model.safetensors", new byte[] {1, 2, 3, 4});
        cache = tmp.resolve("hub");
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    private Path populate() throws IOException {
        return new Hub(cache, fake.endpoint(), null, false, Progress.none()).snapshot("gpt2", null, required, optional);
    }

    private String expectedMissing(String reason, String missing) {
        return "gpt2 is not in the Hugging Face cache (" + cache + ") and the hub cannot be reached (" + reason
                + "). Missing: " + missing + ". Run once with network access, or place the files under "
                + cache.resolve("models--gpt2").resolve("snapshots") + File.separator + "<commit>" + File.separator
                + " with refs/main naming <commit>.";
    }

    @Test
    void offlineWithAPopulatedCacheMakesNoRequest() throws IOException {
        Path online = populate();
        int before = fake.requests.size();
        Hub offline = new Hub(cache, fake.endpoint(), null, true, Progress.none());
        assertEquals(online, offline.snapshot("gpt2", null, required, optional));
        assertEquals(online, offline.snapshot("gpt2", repo.commit, required, optional));
        assertEquals(before, fake.requests.size());
    }

    @Test
    void offlineWithAnEmptyCacheSaysInOneLineWhatIsMissingAndHow() {
        Hub offline = new Hub(cache, fake.endpoint(), null, true, Progress.none());
        IOException e = assertThrows(IOException.class, () -> offline.snapshot("gpt2", null, required, optional));
        assertEquals(expectedMissing("HF_HUB_OFFLINE=1", "config.json, model.safetensors"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertEquals(0, fake.requests.size());
    }

    @Test
    void offlineWithPartOfASnapshotNamesOnlyWhatIsMissing() throws IOException {
        Path snapshot = populate();
        Files.delete(snapshot.resolve("model.safetensors"));
        Hub offline = new Hub(cache, fake.endpoint(), null, true, Progress.none());
        IOException e = assertThrows(IOException.class, () -> offline.snapshot("gpt2", "main", required, optional));
        assertTrue(e.getMessage().startsWith("gpt2 is only partly in the Hugging Face cache"), e.getMessage());
        assertTrue(e.getMessage().contains("Missing: model.safetensors. Run once"), e.getMessage());
    }

    @Test
    void aSnapshotPlacedByHandIsFound() throws IOException {
        Path dir = cache.resolve("models--gpt2/snapshots/local");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), "{}");
        Files.writeString(dir.resolve("model.safetensors"), "x");
        Files.createDirectories(cache.resolve("models--gpt2/refs"));
        Files.writeString(cache.resolve("models--gpt2/refs/main"), "local\n");
        assertEquals(dir, new Hub(cache, fake.endpoint(), null, true, Progress.none()).snapshot("gpt2", null, required, optional));
    }

    @Test
    void anUnreachableHubFallsBackToTheCache() throws IOException {
        Path online = populate();
        Hub unreachable = new Hub(cache, "http://127.0.0.1:" + closedPort(), null, false, Progress.none());
        assertEquals(online, unreachable.snapshot("gpt2", null, required, optional));
    }

    @Test
    void anUnreachableHubWithoutTheCacheGivesTheOneLineMessageAndNoChain() throws IOException {
        int port = closedPort();
        Hub unreachable = new Hub(cache, "http://127.0.0.1:" + port, null, false, Progress.none());
        IOException e = assertThrows(IOException.class, () -> unreachable.snapshot("gpt2", null, required, optional));
        assertEquals(expectedMissing("cannot connect to 127.0.0.1:" + port, "config.json, model.safetensors"), e.getMessage());
        assertNull(e.getCause());
        assertEquals(0, e.getSuppressed().length);
    }

    @Test
    void aHubThatNeverAnswersCountsAsUnreachable() throws IOException {
        Path online = populate();
        // Connections are queued by the kernel but never accepted: the request times out.
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            String endpoint = "http://127.0.0.1:" + silent.getLocalPort();
            Hub hub = new Hub(cache, endpoint, null, false, Progress.none(), Duration.ofMillis(500), Duration.ofSeconds(5));
            assertEquals(online, hub.snapshot("gpt2", null, required, optional));
            Hub empty = new Hub(tmp.resolve("empty"), endpoint, null, false, Progress.none(), Duration.ofMillis(500),
                    Duration.ofSeconds(5));
            IOException e = assertThrows(IOException.class, () -> empty.snapshot("gpt2", null, required, optional));
            assertTrue(e.getMessage().contains("cannot be reached (127.0.0.1:" + silent.getLocalPort()
                    + " did not answer in time)"), e.getMessage());
            assertNull(e.getCause());
        }
    }

    @Test
    void aHubThatIsDownFallsBackToTheCache() throws IOException {
        Path online = populate();
        fake.failAll = 503;
        assertEquals(online, new Hub(cache, fake.endpoint(), null, false, Progress.none()).snapshot("gpt2", null, required, optional));
        IOException e = assertThrows(IOException.class, () -> new Hub(tmp.resolve("empty"), fake.endpoint(), null, false,
                Progress.none()).snapshot("gpt2", null, required, optional));
        assertTrue(e.getMessage().contains("answered HTTP 503"), e.getMessage());
    }

    @Test
    void whyTheHubCannotBeReachedIsOneShortPhrase() {
        java.net.URI uri = java.net.URI.create("http://hub.invalid:8080/x");
        java.net.ConnectException noDns = new java.net.ConnectException();
        noDns.initCause(new java.nio.channels.UnresolvedAddressException());
        assertEquals("unknown host hub.invalid", HubHttp.describe(uri, noDns));
        assertEquals("cannot connect to hub.invalid:8080", HubHttp.describe(uri, new java.net.ConnectException("refused")));
        assertEquals("hub.invalid:8080 did not answer in time", HubHttp.describe(uri, new java.net.http.HttpTimeoutException("t")));
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }
}
