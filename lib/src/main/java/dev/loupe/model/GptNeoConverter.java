package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import com.google.gson.JsonElement;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;
import dev.loupe.model.ModelConfig.AttnType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.loupe.model.TlShapes.layerNorm;
import static dev.loupe.model.TlShapes.outPerHead;
import static dev.loupe.model.TlShapes.perHead;
import static dev.loupe.model.TlShapes.rightMultiplied;
import static dev.loupe.model.TlShapes.zeros;

/**
 * GPT-Neo (model_type gpt_neo; also the TinyStories models): GPT-2's shape with learned positions, global and
 * local layers alternating as attention_types says, and attention scores that are not scaled by 1/sqrt(d_head).
 */
public final class GptNeoConverter implements ArchitectureConverter {

    @Override
    public Family family() {
        return new Family("GPT-Neo", "gpt_neo", "(transformer\\.)?h\\.\\d+\\.attn\\.attention\\.(masked_)?bias");
    }

    @Override
    public ModelConfig config(String name, HfConfig hf) throws ModelFileException {
        int d = hf.integer("hidden_size");
        int layers = hf.layers("num_layers");
        return ModelConfig.builder().modelName(name)
                .nLayers(layers)
                .dModel(d)
                .nHeads(hf.integer("num_heads"))
                .dMlp(hf.integer("intermediate_size", 4 * d))
                .dVocab(hf.integer("vocab_size"))
                .nCtx(hf.integer("max_position_embeddings"))
                .actFn(LlamaLayout.activation(hf, "activation_function", "gelu_new"))
                .eps(hf.number("layer_norm_epsilon", 1e-5))
                .attnTypes(attentionTypes(hf, layers))
                .windowSize(hf.integer("window_size", 256))
                .attnScale(1.0) // GPT-Neo never divides q·k by sqrt(d_head)
                .initRange(hf.number("initializer_range", 0.02))
                .build();
    }

    /** attention_types: [[["global", "local"], 12]] repeats the inner list 12 times, one entry per layer. */
    private static List<AttnType> attentionTypes(HfConfig hf, int layers) throws ModelFileException {
        List<AttnType> types = new ArrayList<>();
        try {
            for (JsonElement group : hf.get("attention_types").getAsJsonArray()) {
                int repeat = group.getAsJsonArray().get(1).getAsInt();
                for (int r = 0; r < repeat && types.size() <= layers; r++) { // more than num_layers fails below
                    for (JsonElement t : group.getAsJsonArray().get(0).getAsJsonArray()) {
                        types.add(AttnType.of(t.getAsString()));
                    }
                }
            }
        } catch (RuntimeException e) {
            throw hf.wrong("attention_types", "a list of [[\"global\" | \"local\", ...], repeats] pairs");
        }
        if (types.size() != layers) {
            throw hf.wrong("attention_types", "one entry per layer (num_layers " + layers + "), but it names "
                    + (types.size() > layers ? "more" : types.size()));
        }
        return types;
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
        w.put("pos_embed.W_pos", in.take("transformer.wpe.weight", cfg.nCtx(), d));
        for (int l = 0; l < cfg.nLayers(); l++) {
            String src = "transformer.h." + l + ".";
            String dst = "blocks." + l + ".";
            layerNorm(w, dst + "ln1", in, src + "ln_1", d);
            String attn = src + "attn.attention.";
            for (String x : List.of("q", "k", "v")) {
                String tl = x.toUpperCase();
                w.put(dst + "attn.W_" + tl, perHead(in.take(attn + x + "_proj.weight", d, d), h, dh));
                w.put(dst + "attn.b_" + tl, zeros(embed, h, dh));
            }
            w.put(dst + "attn.W_O", outPerHead(in.take(attn + "out_proj.weight", d, d), h, dh));
            w.put(dst + "attn.b_O", in.take(attn + "out_proj.bias", d));
            layerNorm(w, dst + "ln2", in, src + "ln_2", d);
            w.put(dst + "mlp.W_in", rightMultiplied(in.take(src + "mlp.c_fc.weight", m, d)));
            w.put(dst + "mlp.b_in", in.take(src + "mlp.c_fc.bias", m));
            w.put(dst + "mlp.W_out", rightMultiplied(in.take(src + "mlp.c_proj.weight", d, m)));
            w.put(dst + "mlp.b_out", in.take(src + "mlp.c_proj.bias", d));
        }
        layerNorm(w, "ln_final", in, "transformer.ln_f", d);
        NDArray head = in.takeOptional("lm_head.weight", cfg.dVocabOut(), d);
        boolean tied = hf.bool("tie_word_embeddings", true);
        w.put("unembed.W_U", rightMultiplied(tied || head == null ? embed : head));
        w.put("unembed.b_U", zeros(embed, cfg.dVocabOut()));
        in.checkAllUsed();
        return w;
    }
}
