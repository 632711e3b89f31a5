package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The matrix products of a forward pass, shape by shape as {@link HookedTransformer} runs them, their FLOP count, and
 * the rate libtorch reaches on them alone: the ceiling for a forward pass of those shapes on this machine.
 */
final class ForwardGemms {

    private ForwardGemms() {}

    /**
     * {@code batch} independent products [m, k] · [k, n]. {@code weight} names the parameter on the right (taken as one
     * [k, n] matrix), or is null for attention's products of two activations.
     */
    record Gemm(String weight, long batch, long m, long k, long n) {
        double flops() {
            return 2.0 * batch * m * k * n;
        }
    }

    /**
     * The products of a forward pass of [batch, pos] tokens, in the order the model runs them: per layer the query, key
     * and value projections (grouped-query models project fewer key/value heads), scores and pattern × values over all
     * query heads and every key (the causal mask is applied to full score matrices), the output projection, the MLP;
     * then the unembedding of {@code unembedRows} positions (every one in a plain forward pass).
     */
    static List<Gemm> forward(ModelConfig c, int batch, int pos, long unembedRows) {
        List<Gemm> gemms = new ArrayList<>();
        long heads = (long) batch * c.nHeads();
        for (int l = 0; l < c.nLayers(); l++) {
            List<Gemm> weights = layerWeights(c, l, (long) batch * pos);
            gemms.addAll(weights.subList(0, 3));
            gemms.add(new Gemm(null, heads, pos, c.dHead(), pos));
            gemms.add(new Gemm(null, heads, pos, pos, c.dHead()));
            gemms.addAll(weights.subList(3, weights.size()));
        }
        gemms.add(new Gemm("unembed.W_U", 1, unembedRows, c.dModel(), c.dVocabOut()));
        return gemms;
    }

    /** Block {@code layer}'s products with its weights over {@code rows} tokens: W_Q, W_K, W_V, W_O, then the MLP's. */
    private static List<Gemm> layerWeights(ModelConfig c, int layer, long rows) {
        String attn = "blocks." + layer + ".attn.";
        String mlp = "blocks." + layer + ".mlp.";
        long d = c.dModel();
        List<Gemm> gemms = new ArrayList<>(List.of(
                new Gemm(attn + "W_Q", 1, rows, d, (long) c.nHeads() * c.dHead()),
                new Gemm(attn + "W_K", 1, rows, d, (long) c.nKeyValueHeads() * c.dHead()),
                new Gemm(attn + "W_V", 1, rows, d, (long) c.nKeyValueHeads() * c.dHead()),
                new Gemm(attn + "W_O", 1, rows, (long) c.nHeads() * c.dHead(), d)));
        if (!c.attnOnly()) {
            if (c.gatedMlp()) {
                gemms.add(new Gemm(mlp + "W_gate", 1, rows, d, c.dMlp()));
            }
            gemms.add(new Gemm(mlp + "W_in", 1, rows, d, c.dMlp()));
            gemms.add(new Gemm(mlp + "W_out", 1, rows, c.dMlp(), d));
        }
        return gemms;
    }

    static double flops(List<Gemm> gemms) {
        return gemms.stream().mapToDouble(Gemm::flops).sum();
    }

    /**
     * The FLOPs a resid_pre patching sweep over every layer and each of {@code pos} positions cannot do without: patch
     * (l, p) changes nothing before block l nor before position p, so it needs blocks l.. on positions p.. only, their
     * queries scoring the keys up to their own position, and the unembedding of the one position the metric reads.
     */
    static double residPreSweepLimit(ModelConfig c, int pos) {
        double weightsPerRow = flops(layerWeights(c, 0, 1));
        double attentionPerKey = 4.0 * c.nHeads() * c.dHead(); // one score and one value row, multiply-adds × 2
        double unembed = 2.0 * c.dModel() * c.dVocabOut();
        double total = 0;
        for (int l = 0; l < c.nLayers(); l++) {
            for (int p = 0; p < pos; p++) {
                double attention = 0;
                for (int query = p; query < pos; query++) {
                    attention += attentionPerKey * (query + 1);
                }
                total += (c.nLayers() - l) * ((pos - p) * weightsPerRow + attention) + unembed;
            }
        }
        return total;
    }

    /**
     * FLOP/s of these products alone, in order, on the model's own weights and random float32 activations made
     * beforehand: passes over the list repeated for at least half a second, the best of three such timings after one
     * pass of warm-up. The per-head input projections are timed both as the model runs them (tokens [1, rows, d_model]
     * against W [head, d_model, d_head] as stored) and as one [d_model, head · d_head] matrix; the faster list gives the
     * peak, so a pass that runs faster than either form would show above 100%.
     */
    static double peak(HookedTransformer model, List<Gemm> gemms) {
        return Math.max(peak(model, gemms, false), peak(model, gemms, true));
    }

    private static double peak(HookedTransformer model, List<Gemm> gemms, boolean headByHead) {
        try (NDScope scope = new NDScope()) {
            Map<Shape, NDArray> activations = new HashMap<>();
            NDArray[][] operands = new NDArray[gemms.size()][];
            for (int i = 0; i < gemms.size(); i++) {
                Gemm g = gemms.get(i);
                NDArray right = g.weight() == null
                        ? activations.computeIfAbsent(shape(g.batch(), g.k(), g.n()), Tensors.manager()::randomNormal)
                        : model.parameter(g.weight());
                boolean perHead = g.weight() != null && isPerHeadInput(right, g);
                Shape left = perHead && headByHead ? new Shape(1, g.m(), g.k()) : shape(g.batch(), g.m(), g.k());
                operands[i] = new NDArray[] {
                        activations.computeIfAbsent(left, Tensors.manager()::randomNormal),
                        g.weight() == null || (perHead && headByHead) ? right : asMatrix(right, g, perHead)};
            }
            pass(operands);
            double best = Double.MAX_VALUE;
            for (int t = 0; t < 3; t++) {
                long start = System.nanoTime();
                int passes = 0;
                do {
                    pass(operands);
                    passes++;
                } while (System.nanoTime() - start < 500_000_000L);
                best = Math.min(best, (System.nanoTime() - start) / 1e9 / passes);
            }
            return flops(gemms) / best;
        }
    }

    /** FLOP/s of 1024 × 1024 matrix products, the best of five timings of 20: the classic reference rate. */
    static double square1024() {
        try (NDScope scope = new NDScope()) {
            NDArray a = Tensors.manager().randomNormal(new Shape(1024, 1024));
            NDArray b = Tensors.manager().randomNormal(new Shape(1024, 1024));
            a.matMul(b).close();
            double best = 0;
            for (int t = 0; t < 5; t++) {
                long start = System.nanoTime();
                for (int i = 0; i < 20; i++) {
                    a.matMul(b).close();
                }
                best = Math.max(best, 20 * 2.0 * 1024 * 1024 * 1024 / ((System.nanoTime() - start) / 1e9));
            }
            return best;
        }
    }

    private static void pass(NDArray[][] operands) {
        for (NDArray[] o : operands) {
            o[0].matMul(o[1]).close();
        }
    }

    private static Shape shape(long batch, long rows, long columns) {
        return batch == 1 ? new Shape(rows, columns) : new Shape(batch, rows, columns);
    }

    /** Whether {@code weight} holds per-head input projections [head, d_model, d_head] (W_Q, W_K, W_V). */
    private static boolean isPerHeadInput(NDArray weight, Gemm g) {
        return weight.getShape().dimension() == 3 && !g.weight().endsWith("W_O");
    }

    /**
     * A weight as one matrix: per-head input projections side by side as [d_model, head · d_head] (copied once here),
     * W_O [head, d_head, d_model] stacked as [head · d_head, d_model], matrices as they are.
     */
    private static NDArray asMatrix(NDArray weight, Gemm g, boolean perHeadInput) {
        return (perHeadInput ? weight.transpose(1, 0, 2) : weight).reshape(g.k(), g.n());
    }
}
