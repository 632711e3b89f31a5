package dev.loupe.model;

import ai.djl.ndarray.types.DataType;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

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
            int heads = nHeads != null ? nHeads : dModel / dHead;
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

    /** Reads config.json (TransformerLens field names); missing optional fields take the builder's defaults. */
    public static ModelConfig fromJson(String json) {
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        Builder b = builder()
                .nLayers(requiredInt(o, "n_layers"))
                .dModel(requiredInt(o, "d_model"))
                .dVocab(requiredInt(o, "d_vocab"))
                .nCtx(requiredInt(o, "n_ctx"));
        if (present(o, "model_name")) b.modelName(o.get("model_name").getAsString());
        if (present(o, "n_heads")) b.nHeads(o.get("n_heads").getAsInt());
        if (present(o, "d_head")) b.dHead(o.get("d_head").getAsInt());
        if (present(o, "d_mlp")) b.dMlp(o.get("d_mlp").getAsInt());
        if (present(o, "d_vocab_out")) b.dVocabOut(o.get("d_vocab_out").getAsInt());
        if (present(o, "act_fn")) b.actFn(o.get("act_fn").getAsString());
        if (o.has("normalization_type")) {
            JsonElement n = o.get("normalization_type");
            b.normalization(Normalization.of(n.isJsonNull() ? null : n.getAsString()));
        }
        if (present(o, "attn_only")) b.attnOnly(o.get("attn_only").getAsBoolean());
        if (present(o, "positional_embedding_type")) {
            b.positionalEmbedding(PositionalEmbedding.of(o.get("positional_embedding_type").getAsString()));
        }
        if (present(o, "eps")) b.eps(o.get("eps").getAsDouble());
        if (present(o, "initializer_range")) b.initRange(o.get("initializer_range").getAsDouble());
        if (present(o, "seed")) b.seed(o.get("seed").getAsLong());
        if (present(o, "dtype")) {
            String d = o.get("dtype").getAsString();
            require(d.equals("float32") || d.equals("float64"), "dtype must be float32 or float64, got " + d);
            b.dtype(d.equals("float64") ? DataType.FLOAT64 : DataType.FLOAT32);
        }
        return b.build();
    }

    private static boolean present(JsonObject o, String key) {
        return o.has(key) && !o.get(key).isJsonNull();
    }

    private static int requiredInt(JsonObject o, String key) {
        require(present(o, key), "config.json has no '" + key + "'");
        return o.get(key).getAsInt();
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
