package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.ReferenceCase;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.Pretrained;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fromPretrained("gpt2") end to end: a tiny GPT-2 checkpoint (the numpy reference's weights in Hugging Face's
 * layout) served by a loopback fake hub, downloaded into a cache, then loaded offline from that cache, from
 * Python's older cache name, and not at all from an empty cache.
 */
class PretrainedTest {

    @TempDir
    Path tmp;

    private final ReferenceCase ref = ReferenceCase.load("gpt2_like");
    private FakeHub fake;
    private Path cache;
    private byte[] weights;
    private String config;

    @BeforeEach
    void start() throws IOException {
        Map<String, NDArray> tl = ref.model(DataType.FLOAT32).stateDict();
        Path file = tmp.resolve("w.safetensors");
        Safetensors.write(file, Gpt2CheckpointTest.hfWeights(tl, ref.config(), "transformer.", true));
        weights = Files.readAllBytes(file);
        config = Gpt2CheckpointTest.hfConfig(ref.config(), false);
        fake = new FakeHub();
        fake.repo("openai-community/gpt2").file("config.json", config).lfs("model.safetensors", weights);
        cache = tmp.resolve("hub");
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    private NDArray expectedLogits() {
        NDArray b_U = ref.model(DataType.FLOAT32).b_U().toType(DataType.FLOAT64, false);
        return ref.expected().get("logits").sub(b_U);
    }

    @Test
    void downloadedOnceThenLoadedOfflineWithoutAnyRequest() throws IOException {
        Hub online = new Hub(cache, fake.endpoint(), null, false, Progress.none());
        HookedTransformer model = Pretrained.fromPretrained("gpt2", LoadOptions.noProcessing(), online);
        assertClose(expectedLogits(), model.forward(ref.tokens()), 5e-5, 5e-5, "downloaded gpt2 logits");
        assertTrue(Files.isDirectory(cache.resolve("models--openai-community--gpt2/snapshots")));

        long requests = fake.requests.size();
        Hub offline = new Hub(cache, fake.endpoint(), null, true, Progress.none());
        HookedTransformer again = Pretrained.fromPretrained("gpt2", LoadOptions.defaults(), offline);
        assertEquals(requests, fake.requests.size(), "offline: no request at all");
        assertClose(model.forward(ref.tokens()).logSoftmax(-1), again.forward(ref.tokens()).logSoftmax(-1), 5e-5, 5e-5,
                "processed log-probs");
    }

    @Test
    void offlineWithAnEmptyCacheFailsInOneLineSayingWhatIsMissing() {
        Hub offline = new Hub(cache, fake.endpoint(), null, true, Progress.none());
        IOException e = assertThrows(IOException.class, () -> Pretrained.fromPretrained("gpt2", LoadOptions.defaults(), offline));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().contains("openai-community/gpt2") && e.getMessage().contains("config.json"), e.getMessage());
        assertEquals(0, fake.requests.size());
    }

    @Test
    void filesPlacedByHandUnderPythonsOlderRepoNameAreFound() throws IOException {
        writeCheckpoint(cache.resolve("models--gpt2/snapshots/e7da7f221d5bf496a48136c0cd264e630fe9fcc8"));
        Files.createDirectories(cache.resolve("models--gpt2/refs"));
        Files.writeString(cache.resolve("models--gpt2/refs/main"), "e7da7f221d5bf496a48136c0cd264e630fe9fcc8");
        Hub offline = new Hub(cache, fake.endpoint(), null, true, Progress.none());
        HookedTransformer model = Pretrained.fromPretrained("gpt2-small", LoadOptions.noProcessing(), offline);
        assertClose(expectedLogits(), model.forward(ref.tokens()), 5e-5, 5e-5, "hand-placed gpt2 logits");
        assertEquals(0, fake.requests.size());
    }

    @Test
    void aLocalFolderLoadsLikeARepository() throws IOException {
        Path folder = writeCheckpoint(tmp.resolve("my-gpt2"));
        HookedTransformer model = HookedTransformer.fromPretrainedNoProcessing(folder.toString());
        assertClose(expectedLogits(), model.forward(ref.tokens()), 5e-5, 5e-5, "local folder logits");
        assertTrue(model.tokenizer().isEmpty(), "a folder without tokenizer files loads without a tokenizer");
    }

    private Path writeCheckpoint(Path folder) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("config.json"), config);
        Files.write(folder.resolve("model.safetensors"), weights);
        return folder;
    }
}
