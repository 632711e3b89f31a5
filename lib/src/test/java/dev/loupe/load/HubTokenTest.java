package dev.loupe.load;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A gated or private repo: the token goes as a Bearer header to the hub, and nowhere else, not even into messages. */
class HubTokenTest {

    private static final String TOKEN = "hf_secretTokenValue123";

    @TempDir
    Path tmp;

    private FakeHub fake;

    @BeforeEach
    void start() throws IOException {
        fake = new FakeHub();
        fake.repo("meta/gated").token(TOKEN).file("config.json", "{}").lfs("model.safetensors", new byte[] {5, 6, 7});
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    private Path fetch(String token) throws IOException {
        return new Hub(tmp.resolve("hub"), fake.endpoint(), token, false, Progress.none())
                .snapshot("meta/gated", null, List.of("config.json", "model.safetensors"), List.of());
    }

    @Test
    void theTokenIsSentAsBearerToEveryHubRequest() throws IOException {
        Path snapshot = fetch(TOKEN);
        assertEquals("{}", Files.readString(snapshot.resolve("config.json")));
        assertFalse(fake.requests.isEmpty());
        fake.requests.forEach(r -> assertEquals("Bearer " + TOKEN, r.authorization(), r.toString()));
    }

    @Test
    void withoutATokenTheMessageSaysGatedOrPrivateAndHowToSetOne() {
        IOException e = assertThrows(IOException.class, () -> fetch(null));
        assertTrue(e.getMessage().contains("gated or private") && e.getMessage().contains("HF_TOKEN")
                && e.getMessage().contains("none is set"), e.getMessage());
        fake.requests.forEach(r -> assertNull(r.authorization()));
    }

    @Test
    void aRefusedTokenIsNeverInAMessageNorInToString() {
        String wrong = "hf_wrongTokenValue456";
        IOException e = assertThrows(IOException.class, () -> fetch(wrong));
        assertTrue(e.getMessage().contains("the one set was refused"), e.getMessage());
        for (Throwable t = e; t != null; t = t.getCause()) {
            assertFalse(String.valueOf(t.getMessage()).contains(wrong), t.getMessage());
        }
        Hub hub = new Hub(tmp.resolve("hub"), fake.endpoint(), wrong, false, Progress.none());
        assertFalse(hub.toString().contains(wrong), hub.toString());
        IOException missing = assertThrows(IOException.class, () -> new Hub(tmp.resolve("hub"), fake.endpoint(), TOKEN,
                false, Progress.none()).snapshot("meta/gated", null, List.of("absent.bin"), List.of()));
        assertFalse(missing.getMessage().contains(TOKEN), missing.getMessage());
        IOException offline = assertThrows(IOException.class, () -> new Hub(tmp.resolve("other"), fake.endpoint(), TOKEN,
                true, Progress.none()).snapshot("meta/gated", null, List.of("config.json"), List.of()));
        assertFalse(offline.getMessage().contains(TOKEN), offline.getMessage());
    }

    @Test
    void aDownloadFromAnotherHostGetsNoToken() throws IOException {
        // "localhost" is another origin than 127.0.0.1 to the client, yet reaches the same loopback server.
        assumeTrue(InetAddress.getByName("localhost").getHostAddress().equals("127.0.0.1"));
        fake.cdnBase = "http://localhost:" + fake.port();
        fetch(TOKEN);
        List<FakeHub.Request> cdn = fake.requests.stream().filter(r -> r.path().startsWith("/cdn/")).toList();
        assertEquals(1, cdn.size());
        assertNull(cdn.get(0).authorization());
        fake.requests.stream().filter(r -> !r.path().startsWith("/cdn/"))
                .forEach(r -> assertEquals("Bearer " + TOKEN, r.authorization()));
    }
}
