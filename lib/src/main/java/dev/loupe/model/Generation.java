package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Tokenizer;

import java.util.Arrays;

/** The sampling loop of {@code generate}: one new position per step from a {@link KvCache}, through the model's hooks. */
final class Generation {

    private Generation() {}

    /** See {@link HookedTransformer#generate(NDArray, GenerateOptions, Integer)}. */
    static NDArray generate(HookedTransformer model, NDArray tokens, GenerateOptions options, Integer eosTokenId) {
        ModelConfig cfg = model.config();
        NDArray input = tokens.getShape().dimension() == 1 ? tokens.reshape(1, tokens.getShape().get(0)) : tokens;
        int batch = (int) input.getShape().get(0);
        long[][] rows = new long[batch][];
        long[] flat = input.toType(DataType.INT64, false).toLongArray();
        int start = (int) input.getShape().get(1);
        for (int b = 0; b < batch; b++) {
            rows[b] = Arrays.copyOfRange(flat, b * start, (b + 1) * start);
        }
        boolean[] finished = new boolean[batch];
        Sampler sampler = new Sampler(options);
        boolean stop = options.stopAtEos() && eosTokenId != null;
        KvCache cache = null;
        for (int step = 0; step < options.maxNewTokens(); step++) {
            int len = rows[0].length;
            // One new position per step from the cache; the whole (last n_ctx) context when starting or full.
            boolean restart = cache == null || cache.length() + 1 > cfg.nCtx();
            int from = restart ? Math.max(0, len - cfg.nCtx()) : len - 1;
            if (restart) {
                cache = model.newKvCache();
            }
            long[] window = new long[batch * (len - from)];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(rows[b], from, window, b * (len - from), len - from);
            }
            double[] last;
            try (NDScope scope = new NDScope()) {
                NDArray logits = model.forward(Tensors.ofLongs(window, new Shape(batch, len - from)), cache);
                last = logits.get(":, -1, :").toType(DataType.FLOAT64, false).toDoubleArray();
                logits.close();
            }
            int vocab = last.length / batch;
            for (int b = 0; b < batch; b++) {
                long next = finished[b] ? eosTokenId
                        : sampler.next(Arrays.copyOfRange(last, b * vocab, (b + 1) * vocab));
                rows[b] = Arrays.copyOf(rows[b], len + 1);
                rows[b][len] = next;
                finished[b] |= stop && next == eosTokenId;
            }
            if (stop && allTrue(finished)) {
                break;
            }
        }
        long[] out = new long[batch * rows[0].length];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(rows[b], 0, out, b * rows[b].length, rows[b].length);
        }
        return Tensors.ofLongs(out, new Shape(batch, rows[0].length));
    }

    /** See {@link HookedTransformer#generate(String, GenerateOptions)}. */
    static String generate(HookedTransformer model, Tokenizer t, String prompt, GenerateOptions options) {
        boolean bos = t.bosTokenId().isPresent();
        NDArray out = generate(model, model.toTokens(prompt, bos), options, t.eosTokenId().isPresent() ? t.eosTokenId().getAsInt() : null);
        return model.toString(bos ? out.get(":, 1:") : out);
    }

    private static boolean allTrue(boolean[] values) {
        for (boolean v : values) {
            if (!v) {
                return false;
            }
        }
        return true;
    }
}
