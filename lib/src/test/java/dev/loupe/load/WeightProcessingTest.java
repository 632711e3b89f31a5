package dev.loupe.load;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.model.WeightProcessing;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Default processing must not change what a model predicts, whatever its positional embedding. */
class WeightProcessingTest {

    @Test
    void shortformerModelsKeepTheirPredictions() {
        ModelConfig cfg = ModelConfig.builder().modelName("shortformer").nLayers(2).dModel(16).nHeads(2).dHead(8)
                .attnOnly(true).positionalEmbedding(ModelConfig.PositionalEmbedding.SHORTFORMER).dVocab(40).nCtx(12)
                .dtype(DataType.FLOAT64).seed(3).build();
        HookedTransformer model = HookedTransformer.create(cfg);
        // Trained-looking layer norms and positions: scales away from 1, biases and positions with a mean over d_model.
        for (String name : new String[] {"blocks.0.ln1.w", "blocks.1.ln1.w", "ln_final.w"}) {
            NDArray w = model.stateDict().get(name);
            model.setParameter(name, w.getManager().randomUniform(0.2f, 2f, w.getShape()).toType(DataType.FLOAT64, false));
        }
        for (String name : new String[] {"blocks.0.ln1.b", "blocks.1.ln1.b", "pos_embed.W_pos"}) {
            NDArray b = model.stateDict().get(name);
            model.setParameter(name, b.getManager().randomNormal(b.getShape()).add(0.5).toType(DataType.FLOAT64, false));
        }
        NDArray tokens = model.stateDict().get("embed.W_E").getManager().arange(0, 12).reshape(1, 12).mul(3).toType(DataType.INT64, false);
        double[] expected = model.forward(tokens).logSoftmax(-1).toDoubleArray();

        Map<String, NDArray> copy = new LinkedHashMap<>();
        model.stateDict().forEach((name, p) -> copy.put(name, p.duplicate()));
        LoadOptions options = LoadOptions.defaults();
        HookedTransformer processed = HookedTransformer.fromStateDict(WeightProcessing.processedConfig(cfg, options),
                WeightProcessing.process(cfg, copy, options));
        double[] got = processed.forward(tokens).logSoftmax(-1).toDoubleArray();
        double worst = 0;
        for (int i = 0; i < got.length; i++) {
            worst = Math.max(worst, Math.abs(got[i] - expected[i]));
        }
        assertTrue(worst < 1e-9, "log-probs moved by " + worst); // float64: only rounding may differ
        assertEquals(ModelConfig.Normalization.LN, processed.config().normalization(), "ln1 stays: positions are added after it");
    }
}
