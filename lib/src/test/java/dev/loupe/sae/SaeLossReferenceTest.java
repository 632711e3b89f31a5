package dev.loupe.sae;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;

import com.google.gson.JsonObject;

import dev.loupe.load.Safetensors;
import dev.loupe.tensor.Tensors;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each architecture's training loss against the independent numpy reference (lib/src/test/reference/sae,
 * {@code sae_losses.py}, SAELens 6.18's definitions): the reference's float32 parameters loaded in float64, the
 * hidden pre-activations, feature activations and reconstruction, every loss component, and the autograd gradient of
 * the total and of each component for every parameter entry. A tensor matches when its largest difference is below
 * 1e-9 of its largest expected magnitude (exact zeros must come out exactly zero).
 */
class SaeLossReferenceTest {

    private static final double TOL = 1e-9;

    /** Largest |a − b| over the largest |b|: relative to the tensor's scale, so tiny entries don't dominate. */
    private static double scaledDiff(NDArray expected, NDArray actual) {
        assertTrue(expected.getShape().equals(actual.getShape()), expected.getShape() + " vs " + actual.getShape());
        double scale = Tensors.item(expected.abs().max());
        double diff = Tensors.item(actual.toType(DataType.FLOAT64, false).sub(expected).abs().max());
        return scale == 0 ? diff : diff / scale;
    }

    @ParameterizedTest
    @ValueSource(strings = {"standard", "topk", "batchtopk", "jumprelu"})
    void lossesAndGradientsMatchTheReference(String arch) throws IOException {
        Path dir = SaeReferenceTest.root().resolve("losses").resolve(arch);
        JsonObject info = SaeReferenceTest.json(dir.resolve("expected.json"));
        JsonObject train = info.getAsJsonObject("training_cfg");
        Map<String, NDArray> expected = Safetensors.read(dir.resolve("expected.safetensors"));
        Map<String, NDArray> stored = Safetensors.read(dir.resolve("params.safetensors"));
        NDArray x = expected.get("x");
        int dIn = train.get("d_in").getAsInt();
        int dSae = train.get("d_sae").getAsInt();
        SaeConfig cfg = SaeConfig.standard("h", dIn, dSae);
        NDArray dead = expected.containsKey("dead_neuron_mask") ? expected.get("dead_neuron_mask").gt(0.5) : null;
        SaeLosses.Terms terms = switch (arch) {
            case "standard" -> SaeLosses.Terms.of(train.get("l1_coefficient").getAsDouble());
            case "jumprelu" -> {
                cfg = cfg.withArchitecture(SaeConfig.Architecture.JUMPRELU, 0);
                yield new SaeLosses.Terms(train.get("l0_coefficient").getAsDouble(),
                        train.get("jumprelu_bandwidth").getAsDouble(), 0, null, 0);
            }
            default -> {
                double k = train.get("k").getAsDouble();
                SaeConfig.Architecture a = arch.equals("topk") ? SaeConfig.Architecture.TOPK
                        : SaeConfig.Architecture.BATCHTOPK;
                cfg = cfg.withArchitecture(a, (int) Math.ceil(k))
                        .withRescaleByDecoderNorm(train.get("rescale_acts_by_decoder_norm").getAsBoolean());
                yield new SaeLosses.Terms(0, 0, train.get("aux_loss_coefficient").getAsDouble(), dead, k);
            }
        };
        assertTrue(train.get("apply_b_dec_to_input").getAsBoolean() && cfg.applyBDecToInput());
        List<String> components = info.getAsJsonArray("components").asList().stream().map(e -> e.getAsString()).toList();
        String aux = components.get(1);
        Map<String, Function<SaeLosses.Result, NDArray>> losses = new LinkedHashMap<>();
        losses.put("loss", SaeLosses.Result::total);
        losses.put("mse_loss", SaeLosses.Result::mse);
        losses.put(aux, SaeLosses.Result::aux);

        Map<String, Double> worst = new LinkedHashMap<>();
        SaeLosses.Result r = SaeLosses.compute(cfg, float64(stored), x, x, terms);
        check(worst, "hidden_pre", expected.get("hidden_pre"), r.hiddenPre());
        check(worst, "feature_acts", expected.get("feature_acts"), r.features());
        check(worst, "sae_out", expected.get("sae_out"), r.output());
        for (var loss : losses.entrySet()) {
            check(worst, loss.getKey(), expected.get(loss.getKey()), loss.getValue().apply(r));
            Map<String, NDArray> params = float64(stored);
            params.values().forEach(p -> p.setRequiresGradient(true));
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.backward(loss.getValue().apply(SaeLosses.compute(cfg, params, x, x, terms)));
            }
            for (String name : params.keySet()) {
                String key = "grad." + loss.getKey() + "." + name;
                check(worst, key, expected.get(key), params.get(name).getGradient());
            }
        }
        System.out.printf("%s: %d tensors within %.0e; largest scaled differences %s%n", arch, worst.size(), TOL, worst);
    }

    private static Map<String, NDArray> float64(Map<String, NDArray> stored) {
        Map<String, NDArray> p = new LinkedHashMap<>();
        stored.forEach((name, a) -> p.put(name, a.toType(DataType.FLOAT64, true)));
        return p;
    }

    private static void check(Map<String, Double> worst, String what, NDArray expected, NDArray actual) {
        assertTrue(expected != null, "the reference has no " + what);
        double d = scaledDiff(expected, actual);
        worst.put(what, Double.parseDouble(String.format("%.2g", d)));
        assertTrue(d < TOL, what + ": off by " + d + " of its scale");
    }
}
