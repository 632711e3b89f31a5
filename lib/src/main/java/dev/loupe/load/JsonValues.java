package dev.loupe.load;

import com.google.gson.JsonElement;

import java.math.BigDecimal;

/** Reading numbers from JSON files strictly, so that a mistyped or out-of-range value is named, never cast. */
public final class JsonValues {

    private JsonValues() {}

    /** The whole number {@code json} holds, if it is one within [min, max]; null otherwise (a string, 2.5, 1e12). */
    public static Long wholeNumber(JsonElement json, long min, long max) {
        if (json == null || !json.isJsonPrimitive() || !json.getAsJsonPrimitive().isNumber()) {
            return null;
        }
        try {
            BigDecimal number = new BigDecimal(json.getAsJsonPrimitive().getAsString());
            if (number.compareTo(BigDecimal.valueOf(min)) < 0 || number.compareTo(BigDecimal.valueOf(max)) > 0
                    || number.stripTrailingZeros().scale() > 0) {
                return null;
            }
            return number.longValueExact();
        } catch (NumberFormatException | ArithmeticException e) { // an exponent past what BigDecimal holds
            return null;
        }
    }

    /** A JSON value as it appears in the file, shortened. */
    public static String describe(JsonElement json) {
        String text = json == null ? "(missing)" : json.toString();
        return text.length() > 60 ? text.substring(0, 60) + "..." : text;
    }
}
