package dev.loupe.model;

/**
 * Settings for {@link HookedTransformer#generate}, TransformerLens's keyword arguments. Temperature 0 is greedy
 * decoding; topK 0 and topP 1 switch those filters off; a seed makes sampling repeatable.
 */
public record GenerateOptions(int maxNewTokens, double temperature, int topK, double topP, boolean stopAtEos, Long seed) {

    public GenerateOptions {
        if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        if (temperature < 0) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
    }

    /** Sampling at temperature 1, no filters, stopping at end-of-text, 10 new tokens. */
    public static GenerateOptions defaults() {
        return new GenerateOptions(10, 1.0, 0, 1.0, true, null);
    }

    /** Always the most likely next token. */
    public static GenerateOptions greedy(int maxNewTokens) {
        return new GenerateOptions(maxNewTokens, 0, 0, 1.0, true, null);
    }

    public GenerateOptions maxNewTokens(int v) { return new GenerateOptions(v, temperature, topK, topP, stopAtEos, seed); }
    public GenerateOptions temperature(double v) { return new GenerateOptions(maxNewTokens, v, topK, topP, stopAtEos, seed); }
    public GenerateOptions topK(int v) { return new GenerateOptions(maxNewTokens, temperature, v, topP, stopAtEos, seed); }
    public GenerateOptions topP(double v) { return new GenerateOptions(maxNewTokens, temperature, topK, v, stopAtEos, seed); }
    public GenerateOptions stopAtEos(boolean v) { return new GenerateOptions(maxNewTokens, temperature, topK, topP, v, seed); }
    public GenerateOptions seed(long v) { return new GenerateOptions(maxNewTokens, temperature, topK, topP, stopAtEos, v); }
}
