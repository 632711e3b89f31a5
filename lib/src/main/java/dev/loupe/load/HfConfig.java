package dev.loupe.load;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import java.nio.file.Path;

/**
 * A Hugging Face config.json, read field by field: a missing or mistyped field fails naming the file, the
 * family and the field, what was expected and what came.
 */
public final class HfConfig {

    private final JsonObject json;
    private final Path file;
    private final String family;

    public HfConfig(JsonObject json, Path file, String family) {
        this.json = json;
        this.file = file;
        this.family = family;
    }

    public JsonObject json() {
        return json;
    }

    /** Whether the field is there and not null. */
    public boolean has(String field) {
        return json.has(field) && !json.get(field).isJsonNull();
    }

    public int integer(String field) throws ModelFileException {
        return (int) whole(field, 1, Integer.MAX_VALUE);
    }

    public int integer(String field, int fallback) throws ModelFileException {
        return has(field) ? integer(field) : fallback;
    }

    /**
     * A number of layers, at most 100,000: published models have at most a few hundred, and per-layer settings are
     * built before the weights are read, so an absurd count must fail here rather than exhaust memory.
     */
    public int layers(String field) throws ModelFileException {
        int n = integer(field);
        if (n > 100_000) {
            throw wrong(field, "a number of layers (at most 100,000)");
        }
        return n;
    }

    /** A count from 0, e.g. a layer index or a window size. */
    public long whole(String field, long min, long max) throws ModelFileException {
        Long v = JsonValues.wholeNumber(require(field), min, max);
        if (v == null) {
            throw wrong(field, "a whole number in [" + min + ", " + max + "]");
        }
        return v;
    }

    public double number(String field) throws ModelFileException {
        JsonElement v = require(field);
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber() || !Double.isFinite(v.getAsDouble())) {
            throw wrong(field, "a finite number");
        }
        return v.getAsDouble();
    }

    public double number(String field, double fallback) throws ModelFileException {
        return has(field) ? number(field) : fallback;
    }

    public boolean bool(String field, boolean fallback) throws ModelFileException {
        if (!has(field)) {
            return fallback;
        }
        JsonElement v = json.get(field);
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isBoolean()) {
            throw wrong(field, "true or false");
        }
        return v.getAsBoolean();
    }

    public String string(String field, String fallback) throws ModelFileException {
        if (!has(field)) {
            return fallback;
        }
        JsonElement v = json.get(field);
        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
            throw wrong(field, "a string");
        }
        return v.getAsString();
    }

    /** A nested object such as rope_scaling, read the same way. */
    public HfConfig object(String field) throws ModelFileException {
        JsonElement v = require(field);
        if (!v.isJsonObject()) {
            throw wrong(field, "an object");
        }
        return new HfConfig(v.getAsJsonObject(), file, family);
    }

    public JsonElement get(String field) throws ModelFileException {
        return require(field);
    }

    private JsonElement require(String field) throws ModelFileException {
        if (!has(field)) {
            throw new ModelFileException(family + " checkpoint: " + file + " has no '" + field + "'.");
        }
        return json.get(field);
    }

    /** The error for a field of the wrong kind. */
    public ModelFileException wrong(String field, String expected) {
        return new ModelFileException(family + " checkpoint: " + file + " field '" + field + "' must be " + expected + ", got "
                + JsonValues.describe(json.get(field)) + ".");
    }
}
