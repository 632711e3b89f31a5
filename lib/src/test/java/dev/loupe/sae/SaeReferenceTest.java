package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.loupe.hook.Hook;
import dev.loupe.load.LoadOptions;
import dev.loupe.load.Safetensors;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every SAE case of the independent numpy reference (lib/src/test/reference/sae, SAELens 6.18's definitions): each
 * SAELens folder loads as the reference's loader configured it, and every hook value, the output with and without the
 * error term, and the output with two features ablated, match in float64 to 1e-9. Then the SAE and the transcoder
 * spliced into a GPT-2 checkpoint: logits spliced, with the error term, with a feature ablated and with a feature
 * patched from a second prompt.
 */
class SaeReferenceTest {

    private static final double TOL = 1e-9;

    static Path root() {
        try {
            return Path.of(SaeReferenceTest.class.getResource("/sae").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Stream<String> folderCases() throws IOException {
        try (Stream<Path> dirs = Files.list(root())) {
            return dirs.filter(d -> Files.exists(d.resolve("cfg.json"))).map(d -> d.getFileName().toString()).sorted()
                    .toList().stream();
        }
    }

    static JsonObject json(Path file) throws IOException {
        return JsonParser.parseString(Files.readString(file)).getAsJsonObject();
    }

    /** Largest |a − b| / (1 + |b|). */
    static double relDiff(NDArray a, NDArray b) {
        assertEquals(b.getShape(), a.getShape());
        NDArray x = a.toType(DataType.FLOAT64, false);
        return Tensors.item(x.sub(b).abs().div(b.abs().add(1.0)).max());
    }

    static void assertClose(NDArray expected, NDArray actual, String what) {
        double d = relDiff(actual, expected);
        assertTrue(d < TOL, what + ": off by " + d);
    }

    @ParameterizedTest
    @MethodSource("folderCases")
    void folderCaseMatchesTheReference(String name) throws IOException {
        Path dir = root().resolve(name);
        JsonObject expectedJson = json(dir.resolve("expected.json"));
        Map<String, NDArray> expected = Safetensors.read(dir.resolve("expected.safetensors"));
        try (Sae sae = Sae.load(dir, DataType.FLOAT64)) {
            checkConfig(expectedJson.getAsJsonObject("loader_cfg"), sae.config(), name);
            NDArray x = expected.get("sae_input");
            Map<String, NDArray> cache = sae.runWithCache(x);
            assertClose(expected.get("acts_pre"), cache.get("hook_sae_acts_pre"), name + " acts_pre");
            assertClose(expected.get("acts_post"), cache.get("hook_sae_acts_post"), name + " acts_post");
            assertClose(expected.get("recons"), cache.get("hook_sae_recons"), name + " recons");
            assertClose(expected.get("output"), cache.get("hook_sae_output"), name + " output");
            assertClose(expected.get("acts_post"), sae.encode(x), name + " encode");
            int[] ablate = new int[] {expectedJson.getAsJsonArray("ablate_features").get(0).getAsInt(),
                    expectedJson.getAsJsonArray("ablate_features").get(1).getAsInt()};
            Hook zero = Hook.of("hook_sae_acts_post", (f, h) -> {
                NDArray c = f.duplicate();
                for (int i : ablate) {
                    c.set(new NDIndex("..., " + i), 0.0);
                }
                return c;
            });
            assertClose(expected.get("ablated_output"), sae.runWithHooks(x, zero), name + " ablated");
            if (expected.containsKey("error")) {
                sae.useErrorTerm(true);
                Map<String, NDArray> withError = sae.runWithCache(x);
                assertClose(expected.get("error"), withError.get("hook_sae_error"), name + " error");
                assertClose(expected.get("output_with_error"), withError.get("hook_sae_output"), name + " output + error");
                assertClose(expected.get("ablated_output_with_error"), sae.runWithHooks(x, zero), name + " ablated + error");
            }
        }
    }

    /** Gemma Scope's params.npz (np.savez and np.savez_compressed) with the config SAELens's loader builds for it. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"gemma_scope", "gemma_scope_compressed"})
    void gemmaScopeArchiveMatchesTheReference(String name) throws IOException {
        Path dir = root().resolve(name);
        JsonObject want = json(dir.resolve("expected.json")).getAsJsonObject("loader_cfg");
        Map<String, NDArray> expected = Safetensors.read(dir.resolve("expected.safetensors"));
        String hook = want.get("hook_name").getAsString();
        SaeConfig cfg = new SaeConfig(SaeConfig.Architecture.JUMPRELU, SaeConfig.Kind.SAE, want.get("d_in").getAsInt(),
                want.get("d_sae").getAsInt(), want.get("d_in").getAsInt(), hook, hook, "gemma-2-2b", 0,
                want.get("apply_b_dec_to_input").getAsBoolean(), SaeConfig.Normalization.NONE, false, Map.of());
        Path npz = dir.resolve("params.npz");
        try (Sae sae = SaeFolder.fromTensors(npz.toString(), cfg, NumpyArchive.read(npz), DataType.FLOAT64)) {
            Map<String, NDArray> cache = sae.useErrorTerm(true).runWithCache(expected.get("sae_input"));
            assertClose(expected.get("acts_post"), cache.get("hook_sae_acts_post"), name + " acts_post");
            assertClose(expected.get("recons"), cache.get("hook_sae_recons"), name + " recons");
            assertClose(expected.get("error"), cache.get("hook_sae_error"), name + " error");
        }
    }

    private static void checkConfig(JsonObject want, SaeConfig got, String name) {
        assertEquals(want.get("architecture").getAsString(), got.saeLensArchitecture(), name);
        assertEquals(want.get("d_in").getAsInt(), got.dIn(), name);
        assertEquals(want.get("d_sae").getAsInt(), got.dSae(), name);
        assertEquals(want.get("hook_name").getAsString(), got.hookName(), name);
        assertEquals(want.get("apply_b_dec_to_input").getAsBoolean(), got.applyBDecToInput(), name);
        assertEquals(want.get("normalize_activations").getAsString(), got.normalization().saeLensName(), name);
        if (want.has("k")) {
            assertEquals(want.get("k").getAsInt(), got.k(), name);
        }
        if (want.has("d_out")) {
            assertEquals(want.get("d_out").getAsInt(), got.dOut(), name);
            assertEquals(want.get("hook_name_out").getAsString(), got.hookNameOut(), name);
        }
        if (want.has("rescale_acts_by_decoder_norm")) {
            assertEquals(want.get("rescale_acts_by_decoder_norm").getAsBoolean(), got.rescaleByDecoderNorm(), name);
        }
    }

    @ParameterizedTest
    @MethodSource("splicedParts")
    void splicedIntoGpt2(String part) throws IOException {
        Path dir = root().resolve("spliced_gpt2");
        JsonObject spec = json(dir.resolve("expected.json")).getAsJsonObject(part);
        Map<String, NDArray> expected = Safetensors.read(dir.resolve("expected.safetensors"));
        NDArray tokens = expected.get("tokens");
        NDArray source = expected.get("tokens_source");
        try (HookedTransformer model = HookedTransformer.fromPretrained(dir.resolve("model").toString(),
                LoadOptions.noProcessing().dtype(DataType.FLOAT64));
             Sae sae = Sae.load(dir.resolve(spec.get("folder").getAsString()), DataType.FLOAT64)) {
            assertClose(expected.get("clean_logits"), model.forward(tokens), "clean logits");
            String acts = spec.get("hook_name").getAsString() + ".hook_sae_acts_post";
            NDArray sourceActs;
            try (var s = model.saes(sae)) {
                assertClose(expected.get(part + ".logits_spliced"), model.forward(tokens), part + " spliced");
                ActivationCache cache = model.runWithCache(tokens, n -> n.equals(acts));
                assertClose(expected.get(part + ".acts_post"), cache.get(acts), part + " acts_post");
                sourceActs = model.runWithCache(source, n -> n.equals(acts)).get(acts);
                assertClose(expected.get(part + ".acts_post_source"), sourceActs, part + " acts_post of the source");
            }
            sae.useErrorTerm(true);
            int ablated = spec.get("ablate_feature").getAsInt();
            int patched = spec.get("patch_feature").getAsInt();
            int at = spec.get("patch_position").getAsInt();
            try (var s = model.saes(sae)) {
                assertClose(expected.get(part + ".logits_with_error"), model.forward(tokens), part + " with error");
                NDArray ablatedLogits = model.runWithHooks(tokens, Hook.of(acts, (f, h) -> {
                    NDArray c = f.duplicate();
                    c.set(new NDIndex("..., " + ablated), 0.0);
                    return c;
                }));
                assertClose(expected.get(part + ".logits_ablated"), ablatedLogits, part + " ablated");
                NDArray patchedLogits = model.runWithHooks(tokens, Hook.of(acts, (f, h) -> {
                    NDArray c = f.duplicate();
                    c.set(new NDIndex(":, " + at + ", " + patched), sourceActs.get(":, " + at + ", " + patched));
                    return c;
                }));
                assertClose(expected.get(part + ".logits_patched"), patchedLogits, part + " patched");
            }
        }
    }

    static List<String> splicedParts() {
        return List.of("sae", "transcoder");
    }
}
