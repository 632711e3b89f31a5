package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A model's tokenizer and the conversions between text and token ids it offers ({@code toTokens}, {@code toStrTokens},
 * {@code toSingleToken}, {@code toString}): BOS first by default, as TransformerLens's prepend_bos, and a clear error
 * when the model has no tokenizer.
 */
final class Tokenization {

    private final ModelConfig cfg;
    private Tokenizer tokenizer;

    Tokenization(ModelConfig cfg) {
        this.cfg = cfg;
    }

    void set(Tokenizer tokenizer) {
        if (tokenizer.vocabSize() > cfg.dVocab()) {
            throw new IllegalArgumentException("The tokenizer has " + tokenizer.vocabSize() + " tokens but " + cfg.modelName()
                    + " has d_vocab = " + cfg.dVocab());
        }
        this.tokenizer = tokenizer;
    }

    Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    Tokenizer require() {
        if (tokenizer == null) {
            throw new IllegalStateException(cfg.modelName() + " has no tokenizer (it was made from a config, or its folder had"
                    + " no tokenizer.json or vocab.json + merges.txt). Pass token ids with toTokens(new int[]{...}), or give"
                    + " it one: model.withTokenizer(Gpt2Tokenizer.bundled()).");
        }
        return tokenizer;
    }

    NDArray toTokens(int[] ids) {
        for (int id : ids) {
            if (id < 0 || id >= cfg.dVocab()) {
                throw new IllegalArgumentException("Token id " + id + " is out of range [0, " + (cfg.dVocab() - 1) + "]");
            }
        }
        return Tensors.tokens(ids);
    }

    NDArray toTokens(String text, boolean prependBos) {
        return Tensors.tokens(encode(text, prependBos));
    }

    TokenBatch toTokens(List<String> texts, boolean prependBos, TokenBatch.PaddingSide side) {
        Tokenizer t = require();
        List<int[]> rows = new ArrayList<>();
        int width = 0;
        for (String text : texts) {
            int[] ids = encode(text, prependBos);
            rows.add(ids);
            width = Math.max(width, ids.length);
        }
        int pad = t.padTokenId().orElse(t.eosTokenId().orElse(0));
        long[] tokens = new long[rows.size() * width];
        long[] mask = new long[rows.size() * width];
        for (int r = 0; r < rows.size(); r++) {
            int[] ids = rows.get(r);
            int offset = side == TokenBatch.PaddingSide.LEFT ? width - ids.length : 0;
            Arrays.fill(tokens, r * width, (r + 1) * width, pad);
            for (int i = 0; i < ids.length; i++) {
                tokens[r * width + offset + i] = ids[i];
                mask[r * width + offset + i] = 1;
            }
        }
        Shape shape = new Shape(rows.size(), width);
        return new TokenBatch(Tensors.ofLongs(tokens, shape), Tensors.ofLongs(mask, shape));
    }

    /** TransformerLens's default_prepend_bos: true unless the tokenizer says the family has no BOS (Qwen). */
    boolean prependsBos() {
        return require().bosTokenId().isPresent();
    }

    private int[] encode(String text, boolean prependBos) {
        Tokenizer t = require();
        int[] ids = t.encode(text);
        if (prependBos) {
            int bos = t.bosTokenId().orElseThrow(() -> new IllegalStateException(
                    "The tokenizer has no BOS token; use toTokens(text, false)."));
            int[] withBos = new int[ids.length + 1];
            withBos[0] = bos;
            System.arraycopy(ids, 0, withBos, 1, ids.length);
            ids = withBos;
        }
        return ids;
    }

    List<String> toStrTokens(String text, boolean prependBos) {
        return strings(encode(text, prependBos));
    }

    List<String> toStrTokens(NDArray tokens) {
        return strings(singleSequence(tokens));
    }

    private List<String> strings(int[] ids) {
        Tokenizer t = require();
        List<String> out = new ArrayList<>(ids.length);
        for (int id : ids) {
            out.add(t.tokenString(id));
        }
        return out;
    }

    int toSingleToken(String text) {
        int[] ids = require().encode(text);
        if (ids.length != 1) {
            throw new IllegalArgumentException("'" + text + "' is " + ids.length + " tokens, not one: " + strings(ids));
        }
        return ids[0];
    }

    String toString(NDArray tokens) {
        return require().decode(singleSequence(tokens));
    }

    private static int[] singleSequence(NDArray tokens) {
        Shape s = tokens.getShape();
        if (s.dimension() > 2 || (s.dimension() == 2 && s.get(0) != 1)) {
            throw new IllegalArgumentException("Expected one sequence, [pos] or [1, pos]; got shape " + s);
        }
        return tokens.toType(DataType.INT32, false).toIntArray();
    }
}
