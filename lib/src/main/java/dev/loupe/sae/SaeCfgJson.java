package dev.loupe.sae;

import ai.djl.ndarray.types.DataType;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import dev.loupe.load.JsonValues;

import static dev.loupe.load.JsonValues.describe;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * SAELens's cfg.json, in both layouts it publishes. The current one (SAELens 6 on) keeps what the SAE computes at the
 * top ({@code architecture}, {@code d_in}, {@code k}, ...) and what it was trained on in {@code metadata} ({@code
 * hook_name}, {@code model_name}, {@code hook_name_out}, ...). The older flat one has everything at the top, often
 * under older names ({@code hook_point}, {@code activation_fn_str}), plus the training settings. A cfg.json with a
 * {@code metadata} object is read as the current layout; the current layout is what is written.
 */
final class SaeCfgJson {

    static final String FILE = "cfg.json";

    /** The first SAELens version whose layout this writes; older versions make SAELens read a file as flat. */
    private static final String LAYOUT_VERSION = "6.0.0";

    /** The flat layout's keys SAELens keeps as metadata; the others are training settings it drops. */
    private static final Set<String> FLAT_METADATA = Set.of("model_class_name", "hook_head_index",
            "model_from_pretrained_kwargs", "prepend_bos", "exclude_special_tokens", "neuronpedia_id", "context_size",
            "seqpos_slice", "dataset_path", "sae_lens_version", "sae_lens_training_version", "hook_head_index_out");

    /** Metadata that {@link SaeConfig} holds in fields of its own. */
    private static final Set<String> MODELLED = Set.of("model_name", "hook_name", "hook_name_out");

    private static final Set<String> DTYPES = Set.of("float32", "float64", "float16", "bfloat16", "torch.float32",
            "torch.float64", "torch.float16", "torch.bfloat16");

    private final String file;
    private final JsonObject top;
    /** Where the metadata keys are: the metadata object, or the top for the flat layout. */
    private final JsonObject meta;
    private final String metaPrefix;

    private SaeCfgJson(String file, JsonObject top) {
        this.file = file;
        this.top = top;
        boolean current = top.get("metadata") != null && top.get("metadata").isJsonObject();
        this.meta = current ? top.getAsJsonObject("metadata") : top;
        this.metaPrefix = current ? "metadata." : "";
    }

    /** The config cfg.json's text describes; {@code file} names it in errors. */
    static SaeConfig parse(String file, byte[] text) {
        JsonElement json;
        try {
            json = JsonParser.parseString(new String(text, StandardCharsets.UTF_8));
        } catch (JsonParseException e) {
            throw new SaeFormatException(file, "(the file)", "a JSON object", "text that is not JSON (" + e.getMessage() + ")");
        }
        if (!json.isJsonObject()) {
            throw new SaeFormatException(file, "(the file)", "a JSON object", describe(json));
        }
        return new SaeCfgJson(file, json.getAsJsonObject()).config();
    }

    private SaeConfig config() {
        boolean flat = meta == top;
        String archField = "architecture";
        String arch = flat ? optionalString(top, "architecture", "standard") : string(top, "architecture", "");
        int k = 0;
        String activationField = top.has("activation_fn_str") ? "activation_fn_str" : "activation_fn";
        String activation = flat ? optionalString(top, activationField, "relu") : "relu";
        if (activation.equals("topk")) {
            JsonElement kwargs = top.get("activation_fn_kwargs");
            JsonElement kJson = kwargs != null && kwargs.isJsonObject() ? kwargs.getAsJsonObject().get("k") : null;
            k = whole(kJson, "activation_fn_kwargs.k", 1);
            arch = "topk";
            archField = activationField;
        } else if (!activation.equals("relu")) {
            throw new SaeFormatException(file, activationField, "relu or topk", describe(top.get(activationField)));
        }
        SaeConfig.Architecture architecture = architectureOf(file, arch, archField);
        SaeConfig.Kind kind = kindOf(arch);
        boolean topK = architecture == SaeConfig.Architecture.TOPK || architecture == SaeConfig.Architecture.BATCHTOPK;
        if (topK && k == 0) {
            k = whole(top.get("k"), "k", 1);
        }
        int dIn = whole(top.get("d_in"), "d_in", 1);
        int dSae = whole(top.get("d_sae"), "d_sae", 1);
        int dOut = kind == SaeConfig.Kind.SAE ? dIn : whole(top.get("d_out"), "d_out", 1);
        String hookName = string(meta, flat && !top.has("hook_name") ? "hook_point" : "hook_name", metaPrefix);
        String hookNameOut = kind == SaeConfig.Kind.SAE ? null : string(meta, "hook_name_out", metaPrefix);
        for (String head : List.of("hook_head_index", "hook_point_head_index", "hook_head_index_out")) {
            JsonElement h = meta.get(head);
            if (h != null && !h.isJsonNull()) {
                throw new SaeFormatException(file, metaPrefix + head, "null (an SAE of whole activations; one reading a"
                        + " single head's slice is not supported)", describe(h));
            }
        }
        String modelName = optionalString(meta, "model_name", "");
        boolean applyBDec = bool(top, "apply_b_dec_to_input", true);
        boolean rescale = topK && bool(top, "rescale_acts_by_decoder_norm", false);
        SaeConfig.Normalization normalization = normalization();
        String reshape = optionalString(top, "reshape_activations", "none");
        if (!reshape.equals("none") && !reshape.equals("hook_z")) {
            throw new SaeFormatException(file, "reshape_activations", "none or hook_z", describe(top.get("reshape_activations")));
        }
        if (top.has("dtype") && !DTYPES.contains(optionalString(top, "dtype", ""))) {
            throw new SaeFormatException(file, "dtype", "one of " + DTYPES, describe(top.get("dtype")));
        }
        try {
            return new SaeConfig(architecture, kind, dIn, dSae, dOut, hookName, hookNameOut, modelName, k, applyBDec,
                    normalization, rescale, metadata());
        } catch (IllegalArgumentException e) {
            throw new SaeFormatException(file + ": " + e.getMessage());
        }
    }

    private static SaeConfig.Architecture architectureOf(String file, String name, String field) {
        return switch (name) {
            case "standard", "transcoder", "skip_transcoder" -> SaeConfig.Architecture.STANDARD;
            case "topk" -> SaeConfig.Architecture.TOPK;
            case "batchtopk" -> SaeConfig.Architecture.BATCHTOPK;
            case "jumprelu", "jumprelu_transcoder" -> SaeConfig.Architecture.JUMPRELU;
            default -> throw new SaeFormatException(file, field, "one of " + SaeConfig.SAELENS_ARCHITECTURES,
                    "'" + name + "', which Loupe does not support");
        };
    }

    private static SaeConfig.Kind kindOf(String name) {
        return switch (name) {
            case "transcoder", "jumprelu_transcoder" -> SaeConfig.Kind.TRANSCODER;
            case "skip_transcoder" -> SaeConfig.Kind.SKIP_TRANSCODER;
            default -> SaeConfig.Kind.SAE;
        };
    }

    /**
     * SAELens's run-time normalisations; the flat layout's booleans mean none and expected_average_only_in.
     * expected_average_only_in divides inputs by a dataset-wide constant that cfg.json does not hold: SAELens folds it
     * in from its release list or, without it, warns and runs unscaled, a silently wrong reconstruction. It is refused.
     */
    private SaeConfig.Normalization normalization() {
        JsonElement n = top.get("normalize_activations");
        if (n == null || n.isJsonNull() || n.isJsonPrimitive() && n.getAsJsonPrimitive().isBoolean() && !n.getAsBoolean()) {
            return SaeConfig.Normalization.NONE;
        }
        String name = n.isJsonPrimitive() && n.getAsJsonPrimitive().isBoolean() ? "expected_average_only_in"
                : n.isJsonPrimitive() && n.getAsJsonPrimitive().isString() ? n.getAsString() : null;
        if ("expected_average_only_in".equals(name)) {
            throw new SaeFormatException(file, "normalize_activations", "none, constant_norm_rescale or layer_norm",
                    describe(n) + " (expected_average_only_in): inputs must be divided by a dataset-wide norm scaling factor"
                    + " that cfg.json does not hold; fold it into the weights (W_enc times s, W_dec and b_dec divided by s)"
                    + " and set normalize_activations to none");
        }
        try {
            return SaeConfig.Normalization.of(name);
        } catch (IllegalArgumentException e) {
            throw new SaeFormatException(file, "normalize_activations", "none, constant_norm_rescale or layer_norm", describe(n));
        }
    }

    /** The metadata to keep: the metadata object (current layout) or SAELens's metadata keys (flat), less the modelled. */
    private Map<String, Object> metadata() {
        Map<String, Object> kept = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : meta.entrySet()) {
            String key = meta == top ? (e.getKey().equals("hook_point_head_index") ? "hook_head_index" : e.getKey()) : e.getKey();
            if (!MODELLED.contains(key) && (meta != top || FLAT_METADATA.contains(key))) {
                kept.put(key, toJava(e.getValue()));
            }
        }
        return kept;
    }

    private int whole(JsonElement json, String field, long min) {
        Long v = JsonValues.wholeNumber(json, min, Integer.MAX_VALUE);
        if (v == null) {
            throw new SaeFormatException(file, field, "a whole number from " + min + " to " + Integer.MAX_VALUE, describe(json));
        }
        return v.intValue();
    }

    private String string(JsonObject o, String field, String prefix) {
        JsonElement json = o.get(field);
        if (json == null || !json.isJsonPrimitive() || !json.getAsJsonPrimitive().isString() || json.getAsString().isBlank()) {
            throw new SaeFormatException(file, prefix + field, "a non-empty string", describe(json));
        }
        return json.getAsString();
    }

    private String optionalString(JsonObject o, String field, String otherwise) {
        JsonElement json = o.get(field);
        return json == null || json.isJsonNull() ? otherwise : string(o, field, o == top ? "" : metaPrefix);
    }

    private boolean bool(JsonObject o, String field, boolean otherwise) {
        JsonElement json = o.get(field);
        if (json == null) {
            return otherwise;
        }
        if (!json.isJsonPrimitive() || !json.getAsJsonPrimitive().isBoolean()) {
            throw new SaeFormatException(file, field, "true or false", describe(json));
        }
        return json.getAsBoolean();
    }

    // ---------------------------------------------------------------- writing

    /** cfg.json in SAELens's current layout, for an SAE whose weights are of {@code type}. */
    static byte[] write(SaeConfig cfg, DataType type) {
        String arch = cfg.saeLensArchitecture();
        if (cfg.architecture() != architectureOf(FILE, arch, "architecture")
                || cfg.kind() != kindOf(arch)) {
            throw new IllegalArgumentException("SAELens has no architecture for a " + cfg.architecture().saeLensName() + " "
                    + cfg.kind().name().toLowerCase() + "; it cannot be saved in its layout");
        }
        JsonObject o = new JsonObject();
        o.addProperty("d_in", cfg.dIn());
        o.addProperty("d_sae", cfg.dSae());
        o.addProperty("dtype", type == DataType.FLOAT64 ? "float64" : "float32");
        o.addProperty("device", "cpu");
        o.addProperty("apply_b_dec_to_input", cfg.applyBDecToInput());
        o.addProperty("normalize_activations", cfg.normalization().saeLensName());
        o.addProperty("reshape_activations", cfg.hookName().endsWith("hook_z") ? "hook_z" : "none");
        if (cfg.k() > 0) {
            o.addProperty("k", cfg.k());
            o.addProperty("rescale_acts_by_decoder_norm", cfg.rescaleByDecoderNorm());
        }
        if (cfg.kind() != SaeConfig.Kind.SAE) {
            o.addProperty("d_out", cfg.dOut());
        }
        Map<String, Object> metadata = new TreeMap<>(cfg.metadata()); // sorted: the same config, the same bytes
        metadata.put("model_name", cfg.modelName());
        metadata.put("hook_name", cfg.hookName());
        if (cfg.kind() != SaeConfig.Kind.SAE) {
            metadata.put("hook_name_out", cfg.hookNameOut());
        }
        if (!(metadata.get("sae_lens_version") instanceof String v && startsAtLeastSix(v))) {
            metadata.put("sae_lens_version", LAYOUT_VERSION);
        }
        o.add("metadata", toJson(metadata));
        o.addProperty("architecture", arch);
        return new GsonBuilder().serializeNulls().serializeSpecialFloatingPointValues().setPrettyPrinting().create()
                .toJson(o).getBytes(StandardCharsets.UTF_8);
    }

    private static boolean startsAtLeastSix(String version) {
        String major = version.split("\\.", 2)[0];
        return major.matches("\\d{1,9}") && Integer.parseInt(major) >= 6;
    }

    /** A JSON value as plain Java: null, Boolean, String, Long (whole numbers), Double, List, Map. */
    static Object toJava(JsonElement json) {
        if (json == null || json.isJsonNull()) {
            return null;
        }
        if (json.isJsonArray()) {
            List<Object> list = new ArrayList<>();
            json.getAsJsonArray().forEach(e -> list.add(toJava(e)));
            return list;
        }
        if (json.isJsonObject()) {
            Map<String, Object> map = new LinkedHashMap<>();
            json.getAsJsonObject().entrySet().forEach(e -> map.put(e.getKey(), toJava(e.getValue())));
            return map;
        }
        JsonPrimitive p = json.getAsJsonPrimitive();
        if (p.isBoolean()) {
            return p.getAsBoolean();
        }
        if (p.isString()) {
            return p.getAsString();
        }
        Long whole = JsonValues.wholeNumber(p, Long.MIN_VALUE, Long.MAX_VALUE);
        return whole != null ? (Object) whole : (Object) p.getAsDouble();
    }

    private static JsonElement toJson(Object value) {
        if (value == null) {
            return JsonNull.INSTANCE;
        }
        if (value instanceof Boolean b) {
            return new JsonPrimitive(b);
        }
        if (value instanceof Number n) {
            return new JsonPrimitive(n);
        }
        if (value instanceof List<?> list) {
            JsonArray a = new JsonArray();
            list.forEach(v -> a.add(toJson(v)));
            return a;
        }
        if (value instanceof Map<?, ?> map) {
            JsonObject o = new JsonObject();
            map.forEach((k, v) -> o.add(String.valueOf(k), toJson(v)));
            return o;
        }
        return new JsonPrimitive(value.toString());
    }
}
