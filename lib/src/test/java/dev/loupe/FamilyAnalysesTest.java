package dev.loupe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.cache.LabelledStack;
import dev.loupe.circuits.HeadDetector;
import dev.loupe.circuits.HeadScores;
import dev.loupe.hook.Hook;
import dev.loupe.load.LoadOptions;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.Patching;
import dev.loupe.patching.PatchingResult;
import dev.loupe.patching.PathPatching;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.function.Function;

import static dev.loupe.ReferenceCase.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The analyses on every family, each checked against a computation that does not use it: decompositions against
 * the activations they decompose, patching sweeps against one hand-made hook run, per-head weights against the
 * stored grouped ones. float64 throughout, tolerance 1e-9.
 */
class FamilyAnalysesTest {

    static final double TOL = 1e-9;

    static List<String> cases() {
        return FamilyCase.names();
    }

    private static HookedTransformer model(String name) {
        return FamilyCase.of(name).load(LoadOptions.defaults().dtype(DataType.FLOAT64));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void residualDecompositionsAddUpToTheStreamAndTheFinalNorm(String name) {
        HookedTransformer model = model(name);
        ModelConfig cfg = model.config();
        try (ActivationCache cache = model.runWithCache(FamilyCase.of(name).tokens())) {
            int last = cfg.nLayers() - 1;
            LabelledStack parts = cache.decomposeResid(cfg.nLayers(), false, null);
            assertClose(cache.get("resid_post", last), parts.sum(), TOL, TOL, name + " decomposition");
            LabelledStack mlpInput = cache.decomposeResid(last, true, null);
            NDArray mlpReads = cfg.parallelAttnMlp() ? cache.get("resid_pre", last) : cache.get("resid_mid", last);
            assertClose(mlpReads, mlpInput.sum(), TOL, TOL, name + " decomposition up to the last MLP's input");
            LabelledStack scaled = cache.applyLnToStack(parts, cfg.nLayers(), null);
            assertClose(cache.get("ln_final.hook_normalized"), scaled.sum(), TOL, TOL, name + " apply_ln_to_stack");
            if (cfg.postNorms()) {
                assertThrows(IllegalArgumentException.class, () -> cache.stackHeadResults(cfg.nLayers(), null));
            } else {
                NDArray heads = cache.stackHeadResults(cfg.nLayers(), null).sum();
                NDArray biases = model.b_O(0);
                for (int l = 1; l < cfg.nLayers(); l++) {
                    biases = biases.add(model.b_O(l));
                }
                NDArray attention = cache.get("attn_out", 0);
                for (int l = 1; l < cfg.nLayers(); l++) {
                    attention = attention.add(cache.get("attn_out", l));
                }
                assertClose(attention, heads.add(biases), TOL, TOL, name + " heads' results");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void keyAndValuePatchingGoesByKeyValueHeadAsAHandMadeHookDoes(String name) {
        HookedTransformer model = model(name);
        ModelConfig cfg = model.config();
        NDArray tokens = FamilyCase.of(name).tokens();
        NDArray other = tokens.flip(1); // a different sequence of the same length
        Function<NDArray, NDArray> metric = logits -> logits.get(":, -1, 3").sum();
        try (ActivationCache source = model.runWithCache(other)) {
            PatchingResult k = Patching.headAllPos("k", model, tokens, source, metric);
            assertEquals(new Shape(cfg.nLayers(), cfg.nKeyValueHeads()), k.values().getShape(), name);
            int layer = cfg.nLayers() - 1;
            int head = cfg.nKeyValueHeads() - 1;
            NDArray patched = model.runWithHooks(tokens, Hook.of("blocks." + layer + ".attn.hook_k", (act, h) -> {
                NDArray copy = act.duplicate();
                copy.set(new NDIndex(":, :, " + head + ", :"), source.get("k", layer).get(":, :, " + head + ", :"));
                return copy;
            }));
            assertEquals(metric.apply(patched).getDouble(), k.values().getDouble(layer, head), 1e-9, name);
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void pathPatchingToKeysAndValuesOfGroupedHeadsRuns(String name) {
        HookedTransformer model = model(name);
        ModelConfig cfg = model.config();
        NDArray tokens = FamilyCase.of(name).tokens();
        NDArray other = tokens.flip(1);
        Function<NDArray, NDArray> metric = logits -> logits.get(":, -1, 3").sum();
        try (ActivationCache target = model.runWithCache(tokens); ActivationCache source = model.runWithCache(other)) {
            List<PathPatching.Head> receivers = List.of(new PathPatching.Head(cfg.nLayers() - 1, cfg.nHeads() - 1));
            for (String input : List.of("q", "k", "v")) {
                NDArray values = PathPatching.toReceivers(model, tokens, target, source, receivers, input, metric).values();
                for (int h = 0; h < cfg.nHeads(); h++) {
                    assertTrue(Double.isFinite(values.getDouble(0, h)), name + " " + input + " sender L0H" + h);
                    assertTrue(Double.isNaN(values.getDouble(cfg.nLayers() - 1, h)), name + " at the receivers' layer");
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void perHeadKeyAndValueWeightsRepeatEachGroupsStoredHead(String name) {
        HookedTransformer model = model(name);
        ModelConfig cfg = model.config();
        int group = cfg.nHeads() / cfg.nKeyValueHeads();
        NDArray stored = model.stateDict().get("blocks.0.attn.W_K"); // [kv_head, d_model, d_head]
        NDArray perHead = model.W_K(0);
        assertEquals(new Shape(cfg.nHeads(), cfg.dModel(), cfg.dHead()), perHead.getShape());
        for (int h = 0; h < cfg.nHeads(); h++) {
            assertClose(stored.get(h / group), perHead.get(h), 0, 0, name + " W_K head " + h);
        }
        HeadScores previous = HeadDetector.previousToken(model, FamilyCase.of(name).tokens());
        assertEquals(new Shape(cfg.nLayers(), cfg.nHeads()), previous.scores().getShape(), name);
    }
}
