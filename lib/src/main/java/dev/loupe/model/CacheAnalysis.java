package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

import dev.loupe.cache.LabelledStack;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.List;

/** The residual-stream decompositions behind logit lens and direct logit attribution (see ActivationCache). */
final class CacheAnalysis {

    private CacheAnalysis() {}

    static LabelledStack accumulatedResid(ActivationCache cache, int layer, boolean inclMid, Integer pos) {
        ModelConfig cfg = checkLayer(cache, layer);
        List<String> labels = new ArrayList<>();
        NDList parts = new NDList();
        for (int l = 0; l < layer; l++) {
            parts.add(at(cache.get("resid_pre", l), pos));
            labels.add(l + "_pre");
            if (inclMid && !cfg.attnOnly() && !cfg.parallelAttnMlp()) { // parallel blocks have no resid_mid
                parts.add(at(cache.get("resid_mid", l), pos));
                labels.add(l + "_mid");
            }
        }
        if (layer == cfg.nLayers()) {
            parts.add(at(cache.get("resid_post", cfg.nLayers() - 1), pos));
            labels.add("final_post");
        } else if (layer == 0) {
            parts.add(at(cache.get("resid_pre", 0), pos));
            labels.add("0_pre");
        }
        return new LabelledStack(NDArrays.stack(parts), labels);
    }

    static LabelledStack decomposeResid(ActivationCache cache, int layer, boolean mlpInput, Integer pos) {
        ModelConfig cfg = checkLayer(cache, layer);
        List<String> labels = new ArrayList<>();
        NDList parts = new NDList();
        parts.add(at(cache.get("hook_embed"), pos));
        labels.add("embed");
        if (cfg.positionalEmbedding() == ModelConfig.PositionalEmbedding.STANDARD) {
            parts.add(at(cache.get("hook_pos_embed"), pos));
            labels.add("pos_embed");
        }
        // The MLP's input includes its own layer's attention output, unless attention and MLP run in parallel.
        boolean ownAttention = mlpInput && !cfg.parallelAttnMlp();
        for (int l = 0; l < layer || (ownAttention && l == layer && l < cfg.nLayers()); l++) {
            parts.add(at(cache.get("attn_out", l), pos));
            labels.add(l + "_attn_out");
            if (l < layer && !cfg.attnOnly()) {
                parts.add(at(cache.get("mlp_out", l), pos));
                labels.add(l + "_mlp_out");
            }
        }
        return new LabelledStack(NDArrays.stack(parts), labels);
    }

    static LabelledStack stackHeadResults(ActivationCache cache, int layer, Integer pos) {
        ModelConfig cfg = checkLayer(cache, layer);
        if (cfg.postNorms()) {
            throw new IllegalArgumentException(cfg.modelName() + " normalises each attention output (ln1_post) before adding it"
                    + " to the residual stream, so heads' outputs do not add up to what the layer writes; per-head"
                    + " attribution would be wrong. Use decomposeResid (whole layers) instead.");
        }
        HookedTransformer model = cache.model();
        List<String> labels = new ArrayList<>();
        NDList parts = new NDList();
        for (int l = 0; l < layer; l++) {
            String resultName = "blocks." + l + ".attn.hook_result";
            NDArray result = cache.contains(resultName) ? cache.get(resultName)
                    // z [batch, pos, head, d_head] through each head's W_O [head, d_head, d_model]
                    : cache.get("z", l).transpose(0, 2, 1, 3).matMul(model.W_O(l)).transpose(0, 2, 1, 3);
            for (int h = 0; h < cfg.nHeads(); h++) {
                parts.add(at(result.get(":, :, " + h + ", :"), pos));
                labels.add("L" + l + "H" + h);
            }
        }
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("No heads below layer " + layer + "; ask for a layer from 1 to " + cfg.nLayers());
        }
        return new LabelledStack(NDArrays.stack(parts), labels);
    }

    static LabelledStack applyLnToStack(ActivationCache cache, LabelledStack stack, int layer, Integer pos) {
        ModelConfig cfg = checkLayer(cache, layer);
        if (cfg.normalization() == ModelConfig.Normalization.NONE) {
            return stack;
        }
        NDArray scale = at(layer == cfg.nLayers() ? cache.get("ln_final.hook_scale") : cache.get("scale", layer, "ln1"), pos);
        NDArray values = stack.values();
        // LayerNorm centres, and centring is linear so it applies to each part; RMS norms only divide.
        NDArray centred = cfg.normalization().isRms() ? values : values.sub(values.mean(new int[] {-1}, true));
        return new LabelledStack(centred.div(scale.expandDims(0)), stack.labels());
    }

    static NDArray logitAttrs(ActivationCache cache, LabelledStack stack, int[] tokens, int[] incorrect) {
        NDArray values = stack.values(); // [component, batch, d_model] (one position)
        Shape s = values.getShape();
        if (s.dimension() != 3 || s.get(1) != tokens.length) {
            throw new IllegalArgumentException("logitAttrs needs a stack at one position, [component, batch = "
                    + tokens.length + ", d_model]; got " + s + ". Pass pos to the decomposition.");
        }
        NDArray directions = unembedColumns(cache, tokens); // [batch, d_model]
        if (incorrect != null) {
            if (incorrect.length != tokens.length) {
                throw new IllegalArgumentException(tokens.length + " answer tokens but " + incorrect.length + " incorrect ones");
            }
            directions = directions.sub(unembedColumns(cache, incorrect));
        }
        return values.mul(directions.expandDims(0)).sum(new int[] {-1}); // [component, batch]
    }

    private static NDArray unembedColumns(ActivationCache cache, int[] tokens) {
        long[] ids = new long[tokens.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokens[i];
        }
        return cache.model().W_U().transpose().get(Tensors.ofLongs(ids, new Shape(ids.length)));
    }

    /** The activation at one position ([batch, ...] without the position axis), or all of it. */
    private static NDArray at(NDArray activation, Integer pos) {
        if (pos == null) {
            return activation;
        }
        long p = pos < 0 ? activation.getShape().get(1) + pos : pos;
        return activation.get(":, " + p);
    }

    private static ModelConfig checkLayer(ActivationCache cache, int layer) {
        ModelConfig cfg = cache.model().config();
        if (layer < 0 || layer > cfg.nLayers()) {
            throw new IllegalArgumentException("layer must be in [0, " + cfg.nLayers() + "] (n_layers means after the last block), got " + layer);
        }
        return cfg;
    }
}
