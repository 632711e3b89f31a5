package dev.loupe.model;

import ai.djl.ndarray.types.DataType;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import dev.loupe.load.JsonValues;

import java.util.Arrays;
import java.util.LinkedHashMap;
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
        long seed) {

    /** A setting stored in config.json under TransformerLens's name for it. */
    interface TlNamed {
        String tlName();
    }

    /** MLP activation functions, by TransformerLens's names. */
    public enum ActFn implements TlNamed {
        GELU_NEW("gelu_new"), GELU("gelu"), RELU("relu"), SOLU_LN("solu_ln");

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

    /** Layer norm kind: full (LN), centring and scaling only because weights were folded in (LNPre), or none (null). */
    public enum Normalization implements TlNamed {
        LN("LN"), LN_PRE("LNPre"), NONE(null);

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
    }

    /** Standard: positions added to the residual stream. Shortformer: added only to queries' and keys' inputs. */
    public enum PositionalEmbedding implements TlNamed {
        STANDARD("standard"), SHORTFORMER("shortformer");

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
                .eps(eps).initRange(initRange).dtype(dtype).seed(seed);
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
                    positionalEmbedding, eps, range, dtype, seed);
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
        if (present(o, "attn_only")) {
            JsonElement v = o.get("attn_only");
            require(v.isJsonPrimitive() && v.getAsJsonPrimitive().isBoolean(), "attn_only must be true or false, got "
                    + JsonValues.describe(v));
            b.attnOnly(v.getAsBoolean());
        }
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

    private static String stringField(JsonObject o, String key) {
        JsonElement v = o.get(key);
        require(v.isJsonPrimitive() && v.getAsJsonPrimitive().isString(), key + " must be a string, got "
                + JsonValues.describe(v));
        return v.getAsString();
    }

    @Override
    public String toString() {
        return String.format("%s: %d layers, d_model %d, %d heads × %d, %s, d_vocab %d%s, n_ctx %d, %s, %s%s",
                modelName, nLayers, dModel, nHeads, dHead, attnOnly ? "attention only" : "d_mlp " + dMlp + " " + actFn.tlName(),
                dVocab, dVocabOut != dVocab ? " (out " + dVocabOut + ")" : "", nCtx,
                normalization == Normalization.NONE ? "no layer norm" : normalization.tlName(),
                positionalEmbedding.tlName() + " positions",
                dtype == DataType.FLOAT64 ? ", float64" : "");
    }
}
