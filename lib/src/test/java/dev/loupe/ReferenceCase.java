package dev.loupe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.loupe.load.Safetensors;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A test case written by the independent numpy implementation in lib/src/test/reference (see its README):
 * weights, a config, tokens, and every activation computed in float64.
 */
public record ReferenceCase(String name, Path dir, ModelConfig config, Map<String, NDArray> expected, JsonObject info) {

    public static final List<String> NAMES = List.of("gpt2_like", "odd_shapes", "attn_only_shortformer", "relu_no_norm", "solu");

    public static ReferenceCase load(String name) {
        try {
            Path dir = Path.of(ReferenceCase.class.getResource("/reference/" + name).toURI());
            ModelConfig cfg = ModelConfig.fromJson(Files.readString(dir.resolve("config.json")));
            JsonObject info = JsonParser.parseString(Files.readString(dir.resolve("case.json"))).getAsJsonObject();
            return new ReferenceCase(name, dir, cfg, Safetensors.read(dir.resolve("expected.safetensors")), info);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public HookedTransformer model(DataType dtype) {
        try {
            return HookedTransformer.fromStateDict(config.toBuilder().dtype(dtype).build(),
                    Safetensors.read(dir.resolve("model.safetensors")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public NDArray tokens() {
        return expected.get("tokens");
    }

    public int ablateLayer() {
        return info.get("ablate_layer").getAsInt();
    }

    public int ablateHead() {
        return info.get("ablate_head").getAsInt();
    }

    /**
     * Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise (infinities must match exactly), with the
     * worst element in the message.
     */
    public static void assertClose(NDArray expected, NDArray actual, double atol, double rtol, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what + ": shape");
        double[] e = expected.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] a = actual.toType(DataType.FLOAT64, false).toDoubleArray();
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < e.length; i++) {
            if (Double.isInfinite(e[i]) || Double.isInfinite(a[i])) {
                assertEquals(e[i], a[i], what + ": infinity at flat index " + i);
                continue;
            }
            double excess = Math.abs(a[i] - e[i]) - (atol + rtol * Math.abs(e[i]));
            if (worstAt < 0 || excess > worst) {
                worst = excess;
                worstAt = i;
            }
        }
        if (worstAt >= 0) {
            int i = worstAt;
            assertTrue(worst <= 0, String.format("%s: element %d is %.9g, reference %.9g (|diff| %.3g > %.1g + %.1g·|ref|)",
                    what, i, a[i], e[i], Math.abs(a[i] - e[i]), atol, rtol));
        }
    }
}
