package dev.loupe.load;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.sae.Sae;
import dev.loupe.sae.SaeConfig;
import dev.loupe.sae.SaeFiles;
import dev.loupe.sae.SaeReleases;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sae.fromPretrained's releases served by a loopback fake hub in their published layouts (here, because the fake hub
 * lives in this package): gpt2-small-res-jb's SAELens folders and Gemma Scope's params.npz, then offline from the cache.
 */
class SaePretrainedTest {

    @TempDir
    Path tmp;

    private FakeHub fake;
    private Path cache;

    @BeforeEach
    void start() throws IOException {
        fake = new FakeHub();
        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put("W_dec", new Shape(6, 4));
        shapes.put("W_enc", new Shape(4, 6));
        shapes.put("b_dec", new Shape(4));
        shapes.put("b_enc", new Shape(6));
        String folder = "blocks.8.hook_resid_pre/";
        fake.repo("jbloom/GPT2-Small-SAEs-Reformatted")
                .file(folder + "cfg.json", SaeFiles.flatGpt2JbCfg("blocks.8.hook_resid_pre", 8, 4, 6))
                .lfs(folder + "sae_weights.safetensors", SaeFiles.safetensors(shapes, "F32"))
                .lfs(folder + "sparsity.safetensors", SaeFiles.safetensors(Map.of("sparsity", new Shape(6)), "F32"));
        fake.repo("google/gemma-scope-2b-pt-res").lfs("layer_20/width_16k/average_l0_71/params.npz",
                SaeFiles.gemmaScopeNpz(3, 16384, false));
        cache = tmp.resolve("hub");
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    private Hub online() {
        return new Hub(cache, fake.endpoint(), null, false, Progress.none());
    }

    @Test
    void gpt2SmallResJbDownloadsOnceThenLoadsOffline() throws IOException {
        try (Sae sae = SaeReleases.fromPretrained("gpt2-small-res-jb", "blocks.8.hook_resid_pre", LoadOptions.defaults(), online())) {
            assertEquals("blocks.8.hook_resid_pre", sae.hookName());
            assertEquals(SaeConfig.Architecture.STANDARD, sae.config().architecture());
            assertEquals("gpt2-small/8-res-jb", sae.config().metadata().get("neuronpedia_id"));
            assertEquals(Map.of("center_writing_weights", true), sae.config().metadata().get("model_from_pretrained_kwargs"));
            assertArrayEquals(SaeFiles.values("W_enc", new Shape(4, 6)), sae.W_enc().toFloatArray());
            assertTrue(sae.logSparsity().isPresent());
        }
        int requests = fake.requests.size();
        Hub offline = new Hub(cache, fake.endpoint(), null, true, Progress.none());
        try (Sae sae = SaeReleases.fromPretrained("gpt2-small-res-jb", "blocks.8.hook_resid_pre",
                LoadOptions.defaults().dtype(DataType.FLOAT64), offline)) {
            assertEquals(DataType.FLOAT64, sae.dataType());
        }
        assertEquals(requests, fake.requests.size());
    }

    @Test
    void gemmaScopesCanonicalIdReadsItsAverageL0FoldersParamsNpz() throws IOException {
        try (Sae sae = SaeReleases.fromPretrained("gemma-scope-2b-pt-res-canonical", "layer_20/width_16k/canonical",
                LoadOptions.defaults(), online())) {
            SaeConfig c = sae.config();
            assertEquals(SaeConfig.Architecture.JUMPRELU, c.architecture());
            assertEquals("blocks.20.hook_resid_post", c.hookName());
            assertFalse(c.applyBDecToInput());
            assertEquals(3, c.dIn());
            assertEquals(16384, c.dSae());
            assertEquals("gemma-2-2b", c.modelName());
            assertEquals("gemma-2-2b/20-gemmascope-res-16k", c.metadata().get("neuronpedia_id"));
            assertArrayEquals(SaeFiles.values("threshold", new Shape(16384)), sae.threshold().toFloatArray());
        }
    }

    @Test
    void offlineWithNothingCachedSaysSoInOneLine() {
        Hub offline = new Hub(cache, fake.endpoint(), null, true, Progress.none());
        IOException e = assertThrows(IOException.class, () -> SaeReleases.fromPretrained("gpt2-small-res-jb",
                "blocks.8.hook_resid_pre", LoadOptions.defaults(), offline));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().startsWith("jbloom/GPT2-Small-SAEs-Reformatted is not in the Hugging Face cache"), e.getMessage());
        assertTrue(e.getMessage().contains("Missing: blocks.8.hook_resid_pre/cfg.json, blocks.8.hook_resid_pre/sae_weights.safetensors."),
                e.getMessage());
        assertEquals(0, fake.requests.size());
    }

    @Test
    void unknownReleasesAndIdsListTheClosestFirst() {
        IllegalArgumentException release = assertThrows(IllegalArgumentException.class,
                () -> Sae.fromPretrained("gpt2-small-res-jjb", "blocks.8.hook_resid_pre"));
        assertTrue(release.getMessage().contains("Closest: gpt2-small-res-jb,"), release.getMessage());
        IllegalArgumentException id = assertThrows(IllegalArgumentException.class,
                () -> Sae.fromPretrained("gpt2-small-res-jb", "blocks.12.hook_resid_pre"));
        assertTrue(id.getMessage().contains("Closest: blocks.1.hook_resid_pre, blocks.10.hook_resid_pre, blocks.11.hook_resid_pre"), id.getMessage());
        assertEquals(13, SaeReleases.ids("gpt2-small-res-jb").size());
        assertEquals(7, SaeReleases.ids("pythia-70m-deduped-res-sm").size());
        assertEquals(58, SaeReleases.ids("gemma-scope-2b-pt-res-canonical").size());
    }
}
