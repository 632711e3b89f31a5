package dev.loupe.model;

import ai.djl.ndarray.NDArray;

import com.google.gson.JsonElement;

import dev.loupe.load.HfConfig;
import dev.loupe.load.HfWeights;
import dev.loupe.load.ModelFileException;
import dev.loupe.model.ModelConfig.ActFn;
import dev.loupe.model.ModelConfig.AttnType;
import dev.loupe.model.ModelConfig.Normalization;
import dev.loupe.model.ModelConfig.PositionalEmbedding;
import dev.loupe.model.ModelConfig.RopeScaling;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;

import static dev.loupe.model.TlShapes.outPerHead;
import static dev.loupe.model.TlShapes.perHead;
import static dev.loupe.model.TlShapes.rightMultiplied;
import static dev.loupe.model.TlShapes.zeros;

/**
 * The layout Llama and its descendants share (Mistral, Qwen 2 and 3, Gemma 2 and 3): model.embed_tokens;
 * model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.{gate,up,down}_proj};
 * model.norm; lm_head. RMS norms, rotary positions, gated MLPs; each family's converter says how it differs.
 */
final class LlamaLayout {

    /** How a family departs from Llama's tensors. */
    record Variant(boolean qkvBias, boolean outputBias, boolean qkNorm, boolean sandwichNorms, boolean onePlusNormWeights,
                   boolean embeddingScaled, boolean tiedByDefault) {
        static Variant llama() {
            return new Variant(false, false, false, false, false, false, false);
        }
    }

    private LlamaLayout() {}

    /** The config fields Llama's descendants share. */
    static ModelConfig.Builder config(String name, HfConfig hf, String activationField) throws ModelFileException {
        int d = hf.integer("hidden_size");
        int heads = hf.integer("num_attention_heads");
        if (!hf.has("head_dim") && d % heads != 0) {
            throw hf.wrong("num_attention_heads", "a divisor of hidden_size " + d + " when head_dim is not given");
        }
        return ModelConfig.builder().modelName(name)
                .nLayers(hf.layers("num_hidden_layers"))
                .dModel(d)
                .nHeads(heads)
                .dHead(hf.integer("head_dim", d / heads))
                .nKeyValueHeads(hf.integer("num_key_value_heads", heads))
                .dMlp(hf.integer("intermediate_size"))
                .dVocab(hf.integer("vocab_size"))
                .nCtx(hf.integer("max_position_embeddings"))
                .actFn(activation(hf, activationField, "silu"))
                .normalization(Normalization.RMS)
                .eps(hf.number("rms_norm_eps", 1e-6))
                .positionalEmbedding(PositionalEmbedding.ROTARY)
                .rotaryBase(hf.number("rope_theta", 10000))
                .ropeScaling(ropeScaling(hf))
                .gatedMlp(true)
                .initRange(hf.number("initializer_range", 0.02));
    }

    static ActFn activation(HfConfig hf, String field, String fallback) throws ModelFileException {
        String name = hf.string(field, fallback);
        return switch (name) {
            case "silu", "swish" -> ActFn.SILU;
            case "gelu_pytorch_tanh", "gelu_new", "gelu_fast" -> ActFn.GELU_NEW;
            case "gelu" -> ActFn.GELU;
            case "relu" -> ActFn.RELU;
            default -> throw hf.wrong(field, "one of silu, gelu, gelu_new, gelu_pytorch_tanh, relu");
        };
    }

    /** rope_scaling: null or default (none), linear, or llama3; other kinds are refused rather than ignored. */
    static RopeScaling ropeScaling(HfConfig hf) throws ModelFileException {
        if (!hf.has("rope_scaling")) {
            return RopeScaling.NONE;
        }
        HfConfig r = hf.object("rope_scaling");
        String type = r.string("rope_type", r.string("type", "default"));
        return switch (type) {
            case "default" -> RopeScaling.NONE;
            case "linear" -> RopeScaling.linear(r.number("factor"));
            case "llama3" -> RopeScaling.llama3(r.number("factor"), r.number("low_freq_factor"), r.number("high_freq_factor"),
                    r.integer("original_max_position_embeddings"));
            default -> throw hf.wrong("rope_scaling", "null or of rope_type default, linear or llama3 (Loupe does not implement '"
                    + type + "')");
        };
    }

    /** Per-layer attention from layer_types ("sliding_attention", "full_attention") when given, else by the rule. */
    static List<AttnType> layerTypes(HfConfig hf, int layers, IntPredicate slidingByDefault) throws ModelFileException {
        List<AttnType> types = new ArrayList<>();
        if (hf.has("layer_types")) {
            JsonElement v = hf.get("layer_types");
            if (!v.isJsonArray() || v.getAsJsonArray().size() != layers) {
                throw hf.wrong("layer_types", "a list of " + layers + " layer kinds");
            }
            for (JsonElement t : v.getAsJsonArray()) {
                String kind = t.isJsonPrimitive() ? t.getAsString() : "";
                if (!kind.equals("sliding_attention") && !kind.equals("full_attention")) {
                    throw hf.wrong("layer_types", "a list of \"sliding_attention\" and \"full_attention\"");
                }
                types.add(kind.equals("sliding_attention") ? AttnType.LOCAL : AttnType.GLOBAL);
            }
            return types;
        }
        for (int l = 0; l < layers; l++) {
            types.add(slidingByDefault.test(l) ? AttnType.LOCAL : AttnType.GLOBAL);
        }
        return types;
    }

    static Map<String, NDArray> convert(ModelConfig cfg, HfConfig hf, HfWeights in, Variant v) throws ModelFileException {
        Map<String, NDArray> w = new LinkedHashMap<>();
        int d = cfg.dModel();
        int h = cfg.nHeads();
        int kv = cfg.nKeyValueHeads();
        int dh = cfg.dHead();
        int m = cfg.dMlp();
        NDArray embed = in.take("model.embed_tokens.weight", cfg.dVocab(), d);
        // Gemma multiplies embeddings by sqrt(d_model); folded into W_E as TransformerLens does, so hook_embed is scaled.
        w.put("embed.W_E", v.embeddingScaled() ? embed.mul(Math.sqrt(d)) : embed);
        for (int l = 0; l < cfg.nLayers(); l++) {
            String src = "model.layers." + l + ".";
            String dst = "blocks." + l + ".";
            w.put(dst + "ln1.w", norm(in.take(src + "input_layernorm.weight", d), v));
            String attn = src + "self_attn.";
            w.put(dst + "attn.W_Q", perHead(in.take(attn + "q_proj.weight", (long) h * dh, d), h, dh));
            w.put(dst + "attn.b_Q", bias(in, attn + "q_proj.bias", v.qkvBias(), embed, h, dh));
            w.put(dst + "attn.W_K", perHead(in.take(attn + "k_proj.weight", (long) kv * dh, d), kv, dh));
            w.put(dst + "attn.b_K", bias(in, attn + "k_proj.bias", v.qkvBias(), embed, kv, dh));
            w.put(dst + "attn.W_V", perHead(in.take(attn + "v_proj.weight", (long) kv * dh, d), kv, dh));
            w.put(dst + "attn.b_V", bias(in, attn + "v_proj.bias", v.qkvBias(), embed, kv, dh));
            w.put(dst + "attn.W_O", outPerHead(in.take(attn + "o_proj.weight", d, (long) h * dh), h, dh));
            w.put(dst + "attn.b_O", v.outputBias() ? in.take(attn + "o_proj.bias", d) : zeros(embed, d));
            if (v.qkNorm()) {
                w.put(dst + "attn.q_norm.w", norm(in.take(attn + "q_norm.weight", dh), v));
                w.put(dst + "attn.k_norm.w", norm(in.take(attn + "k_norm.weight", dh), v));
            }
            if (v.sandwichNorms()) { // Gemma: norms before and after both attention and MLP
                w.put(dst + "ln1_post.w", norm(in.take(src + "post_attention_layernorm.weight", d), v));
                w.put(dst + "ln2.w", norm(in.take(src + "pre_feedforward_layernorm.weight", d), v));
                w.put(dst + "ln2_post.w", norm(in.take(src + "post_feedforward_layernorm.weight", d), v));
            } else {
                w.put(dst + "ln2.w", norm(in.take(src + "post_attention_layernorm.weight", d), v));
            }
            w.put(dst + "mlp.W_in", rightMultiplied(in.take(src + "mlp.up_proj.weight", m, d)));
            w.put(dst + "mlp.b_in", zeros(embed, m));
            w.put(dst + "mlp.W_gate", rightMultiplied(in.take(src + "mlp.gate_proj.weight", m, d)));
            w.put(dst + "mlp.W_out", rightMultiplied(in.take(src + "mlp.down_proj.weight", d, m)));
            w.put(dst + "mlp.b_out", zeros(embed, d));
        }
        w.put("ln_final.w", norm(in.take("model.norm.weight", d), v));
        boolean tied = hf.bool("tie_word_embeddings", v.tiedByDefault());
        NDArray head = in.takeOptional("lm_head.weight", cfg.dVocabOut(), d);
        if (!tied && head == null) {
            head = in.take("lm_head.weight", cfg.dVocabOut(), d); // fails naming it
        }
        w.put("unembed.W_U", rightMultiplied(tied ? embed : head));
        w.put("unembed.b_U", zeros(embed, cfg.dVocabOut()));
        in.checkAllUsed();
        return w;
    }

    /** Gemma's norms multiply by (1 + w); stored as such, they are ordinary RMS weights. */
    private static NDArray norm(NDArray weight, Variant v) {
        return v.onePlusNormWeights() ? weight.add(1) : weight;
    }

    private static NDArray bias(HfWeights in, String name, boolean present, NDArray like, int heads, int dh)
            throws ModelFileException {
        return present ? in.take(name, (long) heads * dh).reshape(heads, dh) : zeros(like, heads, dh);
    }
}
