package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;
import dev.loupe.model.ModelConfig.PositionalEmbedding;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.loupe.model.TlShapes.layerNorm;
import static dev.loupe.model.TlShapes.outPerHead;
import static dev.loupe.model.TlShapes.perHead;
import static dev.loupe.model.TlShapes.rightMultiplied;
import static dev.loupe.model.TlShapes.zeros;

/**
 * GPT-J (model_type gptj): attention and MLP in parallel on one shared layer norm; rotary positions on the first
 * rotary_dim dimensions of each head, rotating adjacent pairs; an unembedding with a bias.
 */
public final class GptJConverter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("GPT-J", "gptj", "transformer\\.h\\.\\d+\\.attn\\.(masked_)?bias");
    }

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        int d = hf.integer("n_embd");
        int heads = hf.integer("n_head");
        return ModelConfig.builder().modelName(name)
                .nLayers(hf.layers("n_layer"))
                .dModel(d)
                .nHeads(heads)
                .dMlp(hf.integer("n_inner", 4 * d))
                .dVocab(hf.integer("vocab_size"))
                .nCtx(hf.integer("n_positions"))
                .actFn(LlamaLayout.activation(hf, "activation_function", "gelu_new"))
                .eps(hf.number("layer_norm_epsilon", 1e-5))
                .positionalEmbedding(PositionalEmbedding.ROTARY)
                .rotaryDim(hf.integer("rotary_dim", d / heads))
                .rotaryAdjacentPairs(true)
                .parallelAttnMlp(true)
                .parallelSharedNorm(true)
                .initRange(hf.number("initializer_range", 0.02))
                .build();
    }

    @Override
    public Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights in) throws ModelFileException {
        Map<String, NDArray> w = new LinkedHashMap<>();
        int d = cfg.dModel();
        int h = cfg.nHeads();
        int dh = cfg.dHead();
        int m = cfg.dMlp();
        NDArray embed = in.take("transformer.wte.weight", cfg.dVocab(), d);
        w.put("embed.W_E", embed);
        for (int l = 0; l < cfg.nLayers(); l++) {
            String src = "transformer.h." + l + ".";
            String dst = "blocks." + l + ".";
            layerNorm(w, dst + "ln1", in, src + "ln_1", d);
            for (String x : List.of("q", "k", "v")) {
                String tl = x.toUpperCase();
                w.put(dst + "attn.W_" + tl, perHead(in.take(src + "attn." + x + "_proj.weight", (long) h * dh, d), h, dh));
                w.put(dst + "attn.b_" + tl, zeros(embed, h, dh));
            }
            w.put(dst + "attn.W_O", outPerHead(in.take(src + "attn.out_proj.weight", d, (long) h * dh), h, dh));
            w.put(dst + "attn.b_O", zeros(embed, d));
            w.put(dst + "mlp.W_in", rightMultiplied(in.take(src + "mlp.fc_in.weight", m, d)));
            w.put(dst + "mlp.b_in", in.take(src + "mlp.fc_in.bias", m));
            w.put(dst + "mlp.W_out", rightMultiplied(in.take(src + "mlp.fc_out.weight", d, m)));
            w.put(dst + "mlp.b_out", in.take(src + "mlp.fc_out.bias", d));
        }
        layerNorm(w, "ln_final", in, "transformer.ln_f", d);
        w.put("unembed.W_U", rightMultiplied(in.take("lm_head.weight", cfg.dVocabOut(), d)));
        w.put("unembed.b_U", in.take("lm_head.bias", cfg.dVocabOut()));
        in.checkAllUsed();
        return w;
    }
}
