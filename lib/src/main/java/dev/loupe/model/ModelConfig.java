package dev.loupe.model;

import ai.djl.ndarray.types.DataType;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import dev.loupe.load.JsonValues;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape and kind of a transformer, TransformerLens's {@code HookedTransformerConfig}. Build one with
 * {@link #builder()}; it is validated when built. On disk (config.json) it uses TransformerLens's field
 * names: n_layers, d_model, n_heads, d_head, d_mlp, d_vocab, d_vocab_out, n_ctx, act_fn, ...
 */
public record ModelConfig(
        String modelName,
        int nLayers,
        int dModel,
        int nHeads,
        int dHead,
        int dMlp,
        int dVocab,
        int dVocabOut,
        int nCtx,
        ActFn actFn,
        Normalization normalization,
        boolean attnOnly,
        PositionalEmbedding positionalEmbedding,
        double eps,
        double initRange,
        DataType dtype,
        long seed,
        int nKeyValueHeads,
        int rotaryDim,
        boolean rotaryAdjacentPairs,
        double rotaryBase,
        RopeScaling ropeScaling,
        double rotaryBaseLocal,
        int windowSize,
        List<AttnType> attnTypes,
        double attnScale,
        double attnScoresSoftCap,
        double outputLogitsSoftCap,
        boolean useQkNorm,
        boolean gatedMlp,
        boolean parallelAttnMlp,
        boolean parallelSharedNorm,
        boolean postNorms) {

    /** A setting stored in config.json under TransformerLens's name for it. */
    interface TlNamed {
        String tlName();
    }

    /** MLP activation functions, by TransformerLens's names. */
    public enum ActFn implements TlNamed {
        GELU_NEW("gelu_new"), GELU("gelu"), RELU("relu"), SILU("silu"), SOLU_LN("solu_ln");

        private final String tlName;

        ActFn(String tlName) {
            this.tlName = tlName;
        }

        @Override
        public String tlName() {
            return tlName;
        }

        public static ActFn of(String name) {
            return byTlName(values(), name, "act_fn");
        }
    }

    /**
     * The kind of ln1, ln2 and ln_final: layer norm (LN), RMS norm (RMS), the same without their weights because
     * processing folded them into the next weights (LNPre, RMSPre), or none (null).
     */
    public enum Normalization implements TlNamed {
        LN("LN"), LN_PRE("LNPre"), RMS("RMS"), RMS_PRE("RMSPre"), NONE(null);

        private final String tlName;

        Normalization(String tlName) {
            this.tlName = tlName;
        }

        @Override
        public String tlName() {
            return tlName;
        }

        public static Normalization of(String name) {
            return byTlName(values(), name, "normalization_type");
        }

        /** RMS norms divide by the root mean square without centring. */
        public boolean isRms() {
            return this == RMS || this == RMS_PRE;
        }

        /** Whether the norm has a weight (and, for LN, a bias) of its own. */
        public boolean hasWeights() {
            return this == LN || this == RMS;
        }

        /** The kind once the weights have been folded into the next layer's. */
        public Normalization folded() {
            return switch (this) {
                case LN -> LN_PRE;
                case RMS -> RMS_PRE;
                default -> this;
            };
        }
    }

    /** Whether a layer attends to every earlier position (global) or only to the last window_size (local). */
    public enum AttnType implements TlNamed {
        GLOBAL("global"), LOCAL("local");

        private final String tlName;

        AttnType(String tlName) {
            this.tlName = tlName;
        }

        @Override
        public String tlName() {
            return tlName;
        }

        public static AttnType of(String name) {
            return byTlName(values(), name, "attn_types");
        }
    }

    /**
     * How rotary frequencies are stretched for long contexts, as Hugging Face's rope_scaling: none, linear (every
     * frequency divided by factor) or llama3 (low frequencies divided by factor, high ones kept, a smooth blend
     * between, with bands set by low_freq_factor and high_freq_factor over original_max_position_embeddings).
     */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
        public static final RopeScaling NONE = new RopeScaling("none", 1, 1, 1, 0);

        public RopeScaling {
            require(List.of("none", "linear", "llama3").contains(type), "rope_scaling type must be none, linear or llama3, got "
                    + type);
            require(factor > 0 && Double.isFinite(factor), "rope_scaling factor must be positive, got " + factor);
            require(!type.equals("llama3") || (originalMaxPositions > 0 && lowFreqFactor > 0 && highFreqFactor > lowFreqFactor),
                    "llama3 rope_scaling needs original_max_position_embeddings > 0 and high_freq_factor > low_freq_factor > 0");
        }

        public static RopeScaling linear(double factor) {
            return new RopeScaling("linear", factor, 1, 1, 0);
        }

        public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
            return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
        }
    }

    /**
     * Standard: learned positions added to the residual stream. Shortformer: added only to queries' and keys' inputs.
     * Rotary: no position vectors; queries and keys are rotated by position in each attention layer.
     */
    public enum PositionalEmbedding implements TlNamed {
        STANDARD("standard"), SHORTFORMER("shortformer"), ROTARY("rotary");

        private final String tlName;

        PositionalEmbedding(String tlName) {
            this.tlName = tlName;
        }

        @Override
        public String tlName() {
            return tlName;
        }

        public static PositionalEmbedding of(String name) {
            return byTlName(values(), name, "positional_embedding_type");
        }
    }

    private static <E extends TlNamed> E byTlName(E[] values, String name, String field) {
        for (E e : values) {
            if (java.util.Objects.equals(e.tlName(), name)) {
                return e;
            }
        }
        throw new IllegalArgumentException("Unknown " + field + " '" + name + "'; expected one of "
                + Arrays.stream(values).map(TlNamed::tlName).toList());
    }

    public ModelConfig {
        require(nLayers >= 1, "n_layers must be at least 1, got " + nLayers);
        require(dModel >= 1, "d_model must be at least 1, got " + dModel);
        require(nHeads >= 1, "n_heads must be at least 1, got " + nHeads);
        require(dHead >= 1, "d_head must be at least 1, got " + dHead);
        require(attnOnly || dMlp >= 1, "d_mlp must be at least 1 unless attn_only, got " + dMlp);
        require(dVocab >= 1, "d_vocab must be at least 1, got " + dVocab);
        require(dVocabOut >= 1, "d_vocab_out must be at least 1, got " + dVocabOut);
        require(nCtx >= 1, "n_ctx must be at least 1, got " + nCtx);
        require(eps > 0, "eps must be positive, got " + eps);
        require(dtype == DataType.FLOAT32 || dtype == DataType.FLOAT64,
                "dtype must be float32 or float64, got " + dtype);
        require(actFn != null && normalization != null && positionalEmbedding != null,
                "act_fn, normalization and positional_embedding_type must be set");
        require(nKeyValueHeads >= 1 && nHeads % nKeyValueHeads == 0, "n_key_value_heads (" + nKeyValueHeads
                + ") must divide n_heads (" + nHeads + ")");
        require(positionalEmbedding != PositionalEmbedding.ROTARY || (rotaryDim >= 2 && rotaryDim <= dHead && rotaryDim % 2 == 0),
                "rotary_dim must be even and in [2, d_head = " + dHead + "], got " + rotaryDim);
        require(rotaryBase > 0 && Double.isFinite(rotaryBase), "rotary_base must be positive, got " + rotaryBase);
        require(rotaryBaseLocal >= 0 && Double.isFinite(rotaryBaseLocal), "rotary_base_local must be positive or 0 (the same"
                + " as rotary_base), got " + rotaryBaseLocal);
        require(ropeScaling != null, "rope_scaling must be set (RopeScaling.NONE for none)");
        // Checks that cost the same for a billion layers as for two: a config may be untrusted (see SavedModel).
        require(attnTypes != null && attnTypes.size() == nLayers,
                "attn_types must name global or local for each of the " + nLayers + " layers, got "
                        + (attnTypes == null ? "none" : attnTypes.size()));
        require(!attnTypes.contains(AttnType.LOCAL) || windowSize >= 1, "local attention layers need window_size >= 1, got "
                + windowSize);
        require(windowSize >= 0, "window_size must be 0 (none) or positive, got " + windowSize);
        require(attnScale > 0 && Double.isFinite(attnScale), "attn_scale must be positive, got " + attnScale);
        require(attnScoresSoftCap >= 0 && outputLogitsSoftCap >= 0 && Double.isFinite(attnScoresSoftCap)
                && Double.isFinite(outputLogitsSoftCap), "soft caps must be 0 (none) or positive, got " + attnScoresSoftCap
                + " and " + outputLogitsSoftCap);
        require(!(useQkNorm || postNorms) || normalization != Normalization.NONE,
                "q/k norms and post norms need a normalization_type");
        require(!parallelSharedNorm || parallelAttnMlp, "parallel_shared_norm needs parallel_attn_mlp");
        require(!(attnOnly && (parallelAttnMlp || gatedMlp)), "an attention-only model has no MLP to gate or run in parallel");
        require(!(gatedMlp && actFn == ActFn.SOLU_LN), "solu_ln is not gated");
        attnTypes = Collections.unmodifiableList(attnTypes); // the builder made it: copied, or n copies of GLOBAL
    }

    /** Whether the attention layers of this model divide queries into groups sharing keys and values. */
    public boolean groupedQuery() {
        return nKeyValueHeads != nHeads;
    }

    /** The window of layer {@code layer}'s attention: 0 for every earlier position. */
    public int window(int layer) {
        return attnTypes.get(layer) == AttnType.LOCAL ? windowSize : 0;
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException("Invalid ModelConfig: " + message);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from this config, to change a few fields. */
    public Builder toBuilder() {
        return new Builder().modelName(modelName).nLayers(nLayers).dModel(dModel).nHeads(nHeads).dHead(dHead)
                .dMlp(dMlp).dVocab(dVocab).dVocabOut(dVocabOut).nCtx(nCtx).actFn(actFn)
                .normalization(normalization).attnOnly(attnOnly).positionalEmbedding(positionalEmbedding)
                .eps(eps).initRange(initRange).dtype(dtype).seed(seed).nKeyValueHeads(groupedQuery() ? nKeyValueHeads : null)
                .rotaryDim(rotaryDim == dHead ? null : rotaryDim).rotaryAdjacentPairs(rotaryAdjacentPairs).rotaryBase(rotaryBase).ropeScaling(ropeScaling)
                .rotaryBaseLocal(rotaryBaseLocal).windowSize(windowSize)
                .attnTypes(attnTypes.contains(AttnType.LOCAL) ? attnTypes : null)
                .attnScale(attnScale == Math.sqrt(dHead) ? null : attnScale)
                .attnScoresSoftCap(attnScoresSoftCap).outputLogitsSoftCap(outputLogitsSoftCap).useQkNorm(useQkNorm)
                .gatedMlp(gatedMlp).parallelAttnMlp(parallelAttnMlp).parallelSharedNorm(parallelSharedNorm).postNorms(postNorms);
    }

    /** Fluent construction with TransformerLens's defaults: d_head = d_model / n_heads, d_mlp = 4 d_model. */
    public static final class Builder {
        private String modelName = "custom";
        private Integer nLayers;
        private Integer dModel;
        private Integer nHeads;
        private Integer dHead;
        private Integer dMlp;
        private Integer dVocab;
        private Integer dVocabOut;
        private Integer nCtx;
        private ActFn actFn = ActFn.GELU_NEW;
        private Normalization normalization = Normalization.LN;
        private boolean attnOnly;
        private PositionalEmbedding positionalEmbedding = PositionalEmbedding.STANDARD;
        private double eps = 1e-5;
        private Double initRange;
        private DataType dtype = DataType.FLOAT32;
        private long seed;
        private Integer nKeyValueHeads;
        private Integer rotaryDim;
        private boolean rotaryAdjacentPairs;
        private double rotaryBase = 10000;
        private RopeScaling ropeScaling = RopeScaling.NONE;
        private double rotaryBaseLocal;
        private int windowSize;
        private List<AttnType> attnTypes;
        private Double attnScale;
        private double attnScoresSoftCap;
        private double outputLogitsSoftCap;
        private boolean useQkNorm;
        private boolean gatedMlp;
        private boolean parallelAttnMlp;
        private boolean parallelSharedNorm;
        private boolean postNorms;

        public Builder modelName(String v) { modelName = v; return this; }
        public Builder nLayers(int v) { nLayers = v; return this; }
        public Builder dModel(int v) { dModel = v; return this; }
        public Builder nHeads(int v) { nHeads = v; return this; }
        public Builder dHead(int v) { dHead = v; return this; }
        public Builder dMlp(int v) { dMlp = v; return this; }
        public Builder dVocab(int v) { dVocab = v; return this; }
        public Builder dVocabOut(int v) { dVocabOut = v; return this; }
        public Builder nCtx(int v) { nCtx = v; return this; }
        public Builder actFn(ActFn v) { actFn = v; return this; }
        public Builder actFn(String v) { actFn = ActFn.of(v); return this; }
        public Builder normalization(Normalization v) { normalization = v; return this; }
        public Builder attnOnly(boolean v) { attnOnly = v; return this; }
        public Builder positionalEmbedding(PositionalEmbedding v) { positionalEmbedding = v; return this; }
        public Builder eps(double v) { eps = v; return this; }
        public Builder initRange(double v) { initRange = v; return this; }
        public Builder dtype(DataType v) { dtype = v; return this; }
        /** The seed {@code HookedTransformer.create(cfg)} initialises weights from. */
        public Builder seed(long v) { seed = v; return this; }
        /** Key and value heads; fewer than n_heads is grouped-query attention (one for multi-query). Default n_heads. */
        public Builder nKeyValueHeads(Integer v) { nKeyValueHeads = v; return this; }
        /** Head dimensions rotated (the first ones); default all of d_head. */
        public Builder rotaryDim(Integer v) { rotaryDim = v; return this; }
        /** GPT-J's rotary convention: rotate adjacent pairs (0,1), (2,3)... instead of the two halves. */
        public Builder rotaryAdjacentPairs(boolean v) { rotaryAdjacentPairs = v; return this; }
        public Builder rotaryBase(double v) { rotaryBase = v; return this; }
        public Builder ropeScaling(RopeScaling v) { ropeScaling = v; return this; }
        /** Gemma 3: the rotary base of local layers, which also skip rope_scaling; 0 for rotary_base. */
        public Builder rotaryBaseLocal(double v) { rotaryBaseLocal = v; return this; }
        public Builder windowSize(int v) { windowSize = v; return this; }
        /** Global or local attention per layer; default all global. */
        public Builder attnTypes(List<AttnType> v) {
            require(v == null || v.stream().allMatch(java.util.Objects::nonNull), "attn_types may not contain null");
            attnTypes = v == null ? null : List.copyOf(v);
            return this;
        }
        /** Scores are q·k divided by this; default sqrt(d_head). 1 for GPT-Neo's unscaled scores. */
        public Builder attnScale(Double v) { attnScale = v; return this; }
        /** Attention scores become cap·tanh(score / cap) before masking; 0 for none. */
        public Builder attnScoresSoftCap(double v) { attnScoresSoftCap = v; return this; }
        /** Logits become cap·tanh(logit / cap); 0 for none. */
        public Builder outputLogitsSoftCap(double v) { outputLogitsSoftCap = v; return this; }
        /** RMS norms of each head's queries and keys before the rotation. */
        public Builder useQkNorm(boolean v) { useQkNorm = v; return this; }
        /** MLP out = act(x W_gate) * (x W_in), then W_out (SwiGLU, GeGLU). */
        public Builder gatedMlp(boolean v) { gatedMlp = v; return this; }
        /** Attention and MLP both read the block's input and are added together (GPT-J, GPT-NeoX). */
        public Builder parallelAttnMlp(boolean v) { parallelAttnMlp = v; return this; }
        /** With parallel blocks: the MLP reads ln1's output and there is no ln2 (GPT-J). */
        public Builder parallelSharedNorm(boolean v) { parallelSharedNorm = v; return this; }
        /** Norms on the attention and MLP outputs before they join the residual stream (Gemma 2 and 3). */
        public Builder postNorms(boolean v) { postNorms = v; return this; }

        public ModelConfig build() {
            for (var field : new Object[][] {{"n_layers", nLayers}, {"d_model", dModel}, {"d_vocab", dVocab}, {"n_ctx", nCtx}}) {
                require(field[1] != null, field[0] + " is required");
            }
            require(nHeads != null || dHead != null, "set n_heads (or d_head, and n_heads is d_model / d_head)");
            require(dHead == null || dHead >= 1, "d_head must be at least 1, got " + dHead);
            int heads = nHeads != null ? nHeads : dModel / dHead;
            require(heads >= 1, "n_heads must be at least 1, got " + heads);
            int head;
            if (dHead != null) {
                head = dHead; // stated explicitly: n_heads * d_head may differ from d_model, as in some models
            } else {
                require(dModel % heads == 0, "d_model (" + dModel + ") must be divisible by n_heads (" + heads
                        + ") when d_head is not given; set d_head explicitly for other shapes");
                head = dModel / heads;
            }
            int mlp = attnOnly ? (dMlp != null ? dMlp : 0) : (dMlp != null ? dMlp : 4 * dModel);
            double range = initRange != null ? initRange : 0.8 / Math.sqrt(dModel);
            return new ModelConfig(modelName, nLayers, dModel, heads, head, mlp, dVocab,
                    dVocabOut != null ? dVocabOut : dVocab, nCtx, actFn, normalization, attnOnly,
                    positionalEmbedding, eps, range, dtype, seed, nKeyValueHeads != null ? nKeyValueHeads : heads,
                    rotaryDim != null ? rotaryDim : head, rotaryAdjacentPairs, rotaryBase, ropeScaling, rotaryBaseLocal,
                    windowSize, attnTypes != null ? attnTypes : Collections.nCopies(nLayers, AttnType.GLOBAL),
                    attnScale != null ? attnScale : Math.sqrt(head), attnScoresSoftCap, outputLogitsSoftCap, useQkNorm,
                    gatedMlp, parallelAttnMlp, parallelSharedNorm, postNorms);
        }
    }

    /** This config as config.json, with TransformerLens's field names. */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_name", modelName);
        m.put("n_layers", nLayers);
        m.put("d_model", dModel);
        m.put("n_heads", nHeads);
        m.put("d_head", dHead);
        m.put("d_mlp", attnOnly ? null : dMlp);
        m.put("d_vocab", dVocab);
        m.put("d_vocab_out", dVocabOut);
        m.put("n_ctx", nCtx);
        m.put("act_fn", actFn.tlName());
        m.put("normalization_type", normalization.tlName());
        m.put("attn_only", attnOnly);
        m.put("positional_embedding_type", positionalEmbedding.tlName());
        m.put("eps", eps);
        m.put("initializer_range", initRange);
        m.put("dtype", dtype == DataType.FLOAT64 ? "float64" : "float32");
        m.put("seed", seed);
        // Architecture options only where they differ from GPT-2's, so a GPT-2-style config reads as it always did.
        if (groupedQuery()) {
            m.put("n_key_value_heads", nKeyValueHeads);
        }
        if (positionalEmbedding == PositionalEmbedding.ROTARY) {
            m.put("rotary_dim", rotaryDim);
            m.put("rotary_adjacent_pairs", rotaryAdjacentPairs);
            m.put("rotary_base", rotaryBase);
            if (rotaryBaseLocal > 0) {
                m.put("rotary_base_local", rotaryBaseLocal);
            }
            if (!ropeScaling.equals(RopeScaling.NONE)) {
                Map<String, Object> scaling = new LinkedHashMap<>();
                scaling.put("rope_type", ropeScaling.type());
                scaling.put("factor", ropeScaling.factor());
                scaling.put("low_freq_factor", ropeScaling.lowFreqFactor());
                scaling.put("high_freq_factor", ropeScaling.highFreqFactor());
                scaling.put("original_max_position_embeddings", ropeScaling.originalMaxPositions());
                m.put("rope_scaling", scaling);
            }
        }
        if (attnTypes.contains(AttnType.LOCAL)) { // otherwise every layer is global, whatever n_layers
            m.put("window_size", windowSize);
            m.put("attn_types", attnTypes.stream().map(AttnType::tlName).toList());
        }
        if (attnScale != Math.sqrt(dHead)) {
            m.put("attn_scale", attnScale);
        }
        if (attnScoresSoftCap > 0) {
            m.put("attn_scores_soft_cap", attnScoresSoftCap);
        }
        if (outputLogitsSoftCap > 0) {
            m.put("output_logits_soft_cap", outputLogitsSoftCap);
        }
        for (Object[] flag : new Object[][] {{"use_qk_norm", useQkNorm}, {"gated_mlp", gatedMlp},
                {"parallel_attn_mlp", parallelAttnMlp}, {"parallel_shared_norm", parallelSharedNorm},
                {"use_normalization_before_and_after", postNorms}}) {
            if ((Boolean) flag[1]) {
                m.put((String) flag[0], true);
            }
        }
        Gson gson = new GsonBuilder().serializeNulls().setPrettyPrinting().create();
        return gson.toJson(m);
    }

    /**
     * Reads config.json (TransformerLens field names); missing optional fields take the builder's defaults. A field of
     * the wrong type (a string for a number, 2.5 for a count, a count past an int) fails naming the field.
     */
    public static ModelConfig fromJson(String json) {
        JsonElement parsed;
        try {
            parsed = JsonParser.parseString(json);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException("Invalid ModelConfig: not valid JSON (" + e.getMessage() + ")");
        }
        require(parsed.isJsonObject(), "expected a JSON object of TransformerLens fields (n_layers, d_model, ...), got "
                + (json.isBlank() ? "an empty file" : JsonValues.describe(parsed)));
        JsonObject o = parsed.getAsJsonObject();
        for (String field : new String[] {"n_layers", "d_model", "d_vocab", "n_ctx"}) {
            require(present(o, field), "config.json has no '" + field + "'");
        }
        Builder b = builder()
                .nLayers(intField(o, "n_layers"))
                .dModel(intField(o, "d_model"))
                .dVocab(intField(o, "d_vocab"))
                .nCtx(intField(o, "n_ctx"));
        if (present(o, "model_name")) b.modelName(stringField(o, "model_name"));
        if (present(o, "n_heads")) b.nHeads(intField(o, "n_heads"));
        if (present(o, "d_head")) b.dHead(intField(o, "d_head"));
        if (present(o, "d_mlp")) b.dMlp(intField(o, "d_mlp"));
        if (present(o, "d_vocab_out")) b.dVocabOut(intField(o, "d_vocab_out"));
        if (present(o, "act_fn")) b.actFn(stringField(o, "act_fn"));
        if (o.has("normalization_type")) {
            b.normalization(Normalization.of(present(o, "normalization_type") ? stringField(o, "normalization_type") : null));
        }
        if (present(o, "attn_only")) b.attnOnly(booleanField(o, "attn_only"));
        if (present(o, "positional_embedding_type")) {
            b.positionalEmbedding(PositionalEmbedding.of(stringField(o, "positional_embedding_type")));
        }
        if (present(o, "eps")) b.eps(numberField(o, "eps"));
        if (present(o, "initializer_range")) b.initRange(numberField(o, "initializer_range"));
        if (present(o, "seed")) b.seed(wholeNumberField(o, "seed", Long.MIN_VALUE, Long.MAX_VALUE));
        if (present(o, "dtype")) {
            String d = stringField(o, "dtype");
            require(d.equals("float32") || d.equals("float64"), "dtype must be float32 or float64, got " + d);
            b.dtype(d.equals("float64") ? DataType.FLOAT64 : DataType.FLOAT32);
        }
        if (present(o, "n_key_value_heads")) b.nKeyValueHeads(intField(o, "n_key_value_heads"));
        if (present(o, "rotary_dim")) b.rotaryDim(intField(o, "rotary_dim"));
        if (present(o, "rotary_adjacent_pairs")) b.rotaryAdjacentPairs(booleanField(o, "rotary_adjacent_pairs"));
        if (present(o, "rotary_base")) b.rotaryBase(numberField(o, "rotary_base"));
        if (present(o, "rotary_base_local")) b.rotaryBaseLocal(numberField(o, "rotary_base_local"));
        if (present(o, "rope_scaling")) {
            JsonElement v = o.get("rope_scaling");
            require(v.isJsonObject(), "rope_scaling must be an object, got " + JsonValues.describe(v));
            JsonObject r = v.getAsJsonObject();
            b.ropeScaling(new RopeScaling(present(r, "rope_type") ? stringField(r, "rope_type") : "none",
                    present(r, "factor") ? numberField(r, "factor") : 1,
                    present(r, "low_freq_factor") ? numberField(r, "low_freq_factor") : 1,
                    present(r, "high_freq_factor") ? numberField(r, "high_freq_factor") : 1,
                    present(r, "original_max_position_embeddings") ? intField(r, "original_max_position_embeddings") : 0));
        }
        if (present(o, "window_size")) b.windowSize(intField(o, "window_size"));
        if (present(o, "attn_types")) {
            JsonElement v = o.get("attn_types");
            require(v.isJsonArray(), "attn_types must be a list of \"global\" and \"local\", got " + JsonValues.describe(v));
            List<AttnType> types = new ArrayList<>();
            for (JsonElement t : v.getAsJsonArray()) {
                require(t.isJsonPrimitive() && t.getAsJsonPrimitive().isString(), "attn_types must hold strings, got "
                        + JsonValues.describe(t));
                types.add(AttnType.of(t.getAsString()));
            }
            b.attnTypes(types);
        }
        if (present(o, "attn_scale")) b.attnScale(numberField(o, "attn_scale"));
        if (present(o, "attn_scores_soft_cap")) b.attnScoresSoftCap(numberField(o, "attn_scores_soft_cap"));
        if (present(o, "output_logits_soft_cap")) b.outputLogitsSoftCap(numberField(o, "output_logits_soft_cap"));
        if (present(o, "use_qk_norm")) b.useQkNorm(booleanField(o, "use_qk_norm"));
        if (present(o, "gated_mlp")) b.gatedMlp(booleanField(o, "gated_mlp"));
        if (present(o, "parallel_attn_mlp")) b.parallelAttnMlp(booleanField(o, "parallel_attn_mlp"));
        if (present(o, "parallel_shared_norm")) b.parallelSharedNorm(booleanField(o, "parallel_shared_norm"));
        if (present(o, "use_normalization_before_and_after")) b.postNorms(booleanField(o, "use_normalization_before_and_after"));
        return b.build();
    }

    private static boolean present(JsonObject o, String key) {
        return o.has(key) && !o.get(key).isJsonNull();
    }

    private static int intField(JsonObject o, String key) {
        return (int) wholeNumberField(o, key, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    private static long wholeNumberField(JsonObject o, String key, long min, long max) {
        Long value = JsonValues.wholeNumber(o.get(key), min, max);
        require(value != null, key + " must be a whole number in [" + min + ", " + max + "], got "
                + JsonValues.describe(o.get(key)));
        return value;
    }

    private static double numberField(JsonObject o, String key) {
        JsonElement v = o.get(key);
        boolean number = v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber() && Double.isFinite(v.getAsDouble());
        require(number, key + " must be a finite number, got " + JsonValues.describe(v));
        return v.getAsDouble();
    }

    private static boolean booleanField(JsonObject o, String key) {
        JsonElement v = o.get(key);
        require(v.isJsonPrimitive() && v.getAsJsonPrimitive().isBoolean(), key + " must be true or false, got "
                + JsonValues.describe(v));
        return v.getAsBoolean();
    }

    private static String stringField(JsonObject o, String key) {
        JsonElement v = o.get(key);
        require(v.isJsonPrimitive() && v.getAsJsonPrimitive().isString(), key + " must be a string, got "
                + JsonValues.describe(v));
        return v.getAsString();
    }

    @Override
    public String toString() {
        String heads = nHeads + " heads × " + dHead + (groupedQuery() ? " (" + nKeyValueHeads + " key/value)" : "");
        String mlp = attnOnly ? "attention only" : "d_mlp " + dMlp + " " + (gatedMlp ? "gated " : "") + actFn.tlName();
        String positions = positionalEmbedding == PositionalEmbedding.ROTARY
                ? "rotary" + (rotaryDim < dHead ? " (" + rotaryDim + " dims)" : "") + (rotaryAdjacentPairs ? " on adjacent pairs" : "")
                : positionalEmbedding.tlName();
        StringBuilder extras = new StringBuilder();
        if (attnTypes.contains(AttnType.LOCAL)) {
            extras.append(", ").append(attnTypes.stream().filter(t -> t == AttnType.LOCAL).count()).append(" local layers (window ")
                    .append(windowSize).append(')');
        }
        if (parallelAttnMlp) extras.append(", parallel attention and MLP");
        if (postNorms) extras.append(", post norms");
        if (useQkNorm) extras.append(", q/k norms");
        if (attnScoresSoftCap > 0 || outputLogitsSoftCap > 0) extras.append(", soft caps");
        return String.format("%s: %d layers, d_model %d, %s, %s, d_vocab %d%s, n_ctx %d, %s, %s positions%s%s",
                modelName, nLayers, dModel, heads, mlp,
                dVocab, dVocabOut != dVocab ? " (out " + dVocabOut + ")" : "", nCtx,
                normalization == Normalization.NONE ? "no layer norm" : normalization.tlName(),
                positions, extras, dtype == DataType.FLOAT64 ? ", float64" : "");
    }
}
