package dev.loupe.load;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The environment variables huggingface_hub reads, with its precedence. */
class HubEnvironmentTest {

    @TempDir
    Path home;

    private Hub hub(Map<String, String> env) {
        return Hub.fromEnvironment(env, home);
    }

    @Test
    void withNothingSetTheCacheIsUnderTheHomeAndTheHubIsThePublicOne() {
        Hub hub = hub(Map.of());
        assertEquals(home.resolve(".cache/huggingface/hub"), hub.cacheDir());
        assertEquals(Hub.DEFAULT_ENDPOINT, hub.endpoint());
        assertFalse(hub.offline());
        assertNull(hub.token());
    }

    @Test
    void hfHubCacheBeatsHfHomeWhichBeatsXdgCacheHome() {
        Path a = home.resolve("a");
        Path b = home.resolve("b");
        Path c = home.resolve("c");
        assertEquals(a, hub(Map.of("HF_HUB_CACHE", a.toString(), "HF_HOME", b.toString(), "XDG_CACHE_HOME", c.toString())).cacheDir());
        assertEquals(b.resolve("hub"), hub(Map.of("HF_HOME", b.toString(), "XDG_CACHE_HOME", c.toString())).cacheDir());
        assertEquals(c.resolve("huggingface/hub"), hub(Map.of("XDG_CACHE_HOME", c.toString())).cacheDir());
        assertEquals(a, hub(Map.of("HUGGINGFACE_HUB_CACHE", a.toString(), "HF_HOME", b.toString())).cacheDir());
        assertEquals(b.resolve("hub"), hub(Map.of("HF_HUB_CACHE", " ", "HF_HOME", b.toString())).cacheDir());
        assertEquals(home.resolve("models/hub"), hub(Map.of("HF_HOME", "~/models")).cacheDir());
    }

    @Test
    void hfEndpointReplacesThePublicHub() {
        assertEquals("http://127.0.0.1:9/mirror", hub(Map.of("HF_ENDPOINT", "http://127.0.0.1:9/mirror/")).endpoint());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> hub(Map.of("HF_ENDPOINT", "hub.local")));
        assertTrue(e.getMessage().contains("HF_ENDPOINT"), e.getMessage());
    }

    @Test
    void hfHubOfflineIsTrueForOneTrueYesOnInAnyCase() {
        for (String yes : new String[] {"1", "true", "TRUE", "yes", "On"}) {
            assertTrue(hub(Map.of("HF_HUB_OFFLINE", yes)).offline(), yes);
        }
        for (String no : new String[] {"0", "false", "no", "off", ""}) {
            assertFalse(hub(Map.of("HF_HUB_OFFLINE", no)).offline(), no);
        }
        assertTrue(hub(Map.of("TRANSFORMERS_OFFLINE", "1")).offline());
        assertFalse(hub(Map.of("HF_HUB_OFFLINE", "0", "TRANSFORMERS_OFFLINE", "1")).offline());
    }

    @Test
    void hfTokenBeatsTheTokenFileThatLoginWrites() throws IOException {
        Path hfHome = home.resolve("hf");
        Files.createDirectories(hfHome);
        Files.writeString(hfHome.resolve("token"), "hf_fromFile\n");
        assertEquals("hf_fromFile", hub(Map.of("HF_HOME", hfHome.toString())).token());
        assertEquals("hf_fromEnv", hub(Map.of("HF_HOME", hfHome.toString(), "HF_TOKEN", "hf_fromEnv")).token());
        Path elsewhere = home.resolve("elsewhere");
        Files.writeString(elsewhere, "hf_fromPath");
        assertEquals("hf_fromPath", hub(Map.of("HF_HOME", hfHome.toString(), "HF_TOKEN_PATH", elsewhere.toString())).token());
        assertNull(hub(Map.of("HF_HOME", home.resolve("none").toString())).token());
    }
}
