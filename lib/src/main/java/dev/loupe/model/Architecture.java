package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.ModelConfig.PositionalEmbedding;
import dev.loupe.tensor.Tensors;

import java.util.ArrayList;
import java.util.List;

/**
 * The components a config chooses (Embed, PosEmbed, TransformerBlocks with their norms, Attention and Mlp, the final
 * norm, Unembed) and the forward pass through them, which reads top to bottom in {@link #forward}. Inputs arrive
 * checked; {@link HookedTransformer} owns the checks, the array scopes and the locking.
 */
final class Architecture {

    private final ModelConfig cfg;
    private final Embed embed;
    private final PosEmbed posEmbed;      // learned positions, or null (rotary)
    private final List<TransformerBlock> blocks = new ArrayList<>();
    private final Norm lnFinal;           // or null
    private final Unembed unembed;

    /** The components, declaring their parameters (no arrays yet) and hook points in {@code root}. */
    Architecture(Scope root, ModelConfig cfg) {
        this.cfg = cfg;
        embed = new Embed(root, cfg);
        posEmbed = cfg.positionalEmbedding() != PositionalEmbedding.ROTARY ? new PosEmbed(root, cfg) : null;
        for (int layer = 0; layer < cfg.nLayers(); layer++) {
            blocks.add(new TransformerBlock(root.child("blocks." + layer), cfg, layer));
        }
        lnFinal = Norm.orNone(root.child("ln_final"), cfg.normalization(), cfg.eps(), cfg.dModel());
        unembed = new Unembed(root, cfg);
    }

    /**
     * Logits for token ids [batch, pos] (INT64) with an optional padding mask, after the positions in {@code cache}, at
     * {@code unembedAt}'s positions if given.
     */
    NDArray forward(NDArray input, NDArray mask, KvCache cache, long[] unembedAt) {
        long pos = input.getShape().get(1);
        long past = cache == null ? 0 : cache.length();
        NDManager m = input.getManager();

        NDArray positions = mask == null ? m.arange(past, past + pos)
                : mask.cumSum(1).sub(1).maximum(0); // left padding: the first real token is position 0
        Embedded e = embed(input, positions);
        AttentionMask attend = cache == null ? AttentionMask.causal(m, pos, mask) : AttentionMask.causalAfter(m, past, pos);
        return blocksAndUnembed(0, e.residual(), new Pass(attend, positions, e.shortformerPos(), cache == null ? null : cache::extend), unembedAt);
    }

    /** The residual stream entering block {@code stopAtLayer} for token ids [batch, pos], no cache, no padding. */
    NDArray residualAt(NDArray input, int stopAtLayer) {
        NDManager m = input.getManager();
        long pos = input.getShape().get(1);
        NDArray positions = m.arange(0L, pos);
        Embedded e = embed(input, positions);
        Pass pass = new Pass(AttentionMask.causal(m, pos, null), positions, e.shortformerPos(), null);
        return runBlocks(0, stopAtLayer, e.residual(), pass);
    }

    /**
     * Block {@code layer}'s {@code hook_resid_pre} on the residual stream entering it (none past the last block): a run
     * stopped at {@code layer} has made that value, so it still reaches the hook point.
     */
    NDArray enter(int layer, NDArray residual) {
        return layer < blocks.size() ? blocks.get(layer).enter(residual) : residual;
    }

    /** Block 0's input, and the shortformer position embedding that blocks add to queries' and keys' inputs (or null). */
    private record Embedded(NDArray residual, NDArray shortformerPos) {}

    private Embedded embed(NDArray input, NDArray positions) {
        NDArray residual = embed.forward(input);
        if (posEmbed == null) {
            return new Embedded(residual, null);
        }
        NDArray posEmbedding = posEmbed.forward(positions, input.getShape().get(0));
        return cfg.positionalEmbedding() == PositionalEmbedding.SHORTFORMER ? new Embedded(residual, posEmbedding)
                : new Embedded(residual.add(posEmbedding), null);
    }

    /** Blocks {@code startLayer..}, the final norm and the unembedding, at {@code unembedAt}'s positions if given. */
    NDArray blocksAndUnembed(int startLayer, NDArray residual, Pass pass, long[] unembedAt) {
        residual = runBlocks(startLayer, blocks.size(), residual, pass);
        if (unembedAt != null) { // the final norm and unembedding act on each position alone
            NDArray index = Tensors.ofLongs(unembedAt, new Shape(unembedAt.length, 1, 1))
                    .broadcast(new Shape(unembedAt.length, 1, residual.getShape().get(2)));
            residual = residual.gather(index, 1);
        }
        if (lnFinal != null) {
            residual = lnFinal.forward(residual);
        }
        return unembed.forward(residual);
    }

    NDArray runBlocks(int startLayer, int stopAtLayer, NDArray residual, Pass pass) {
        for (TransformerBlock block : blocks.subList(startLayer, stopAtLayer)) {
            residual = block.forward(residual, pass);
        }
        return residual;
    }

    /** A pass over a residual stream [batch, pos, d_model] of real tokens at positions 0..pos-1, without a cache. */
    Pass passOver(NDArray residual) {
        return passOver(residual, 0, null);
    }

    /**
     * A pass over a residual stream [rows, pos, d_model] of real tokens at positions from..from+pos-1 that also attends
     * to positions 0..from-1, whose keys and values {@code prefix} holds (read, not changed; null when from is 0).
     */
    Pass passOver(NDArray residual, long from, KvCache prefix) {
        NDManager m = residual.getManager();
        Shape s = residual.getShape();
        NDArray positions = m.arange(from, from + s.get(1));
        // Shortformer models add positions to the inputs of queries and keys in every block.
        NDArray shortformer = cfg.positionalEmbedding() == PositionalEmbedding.SHORTFORMER ? posEmbed.table(positions, s.get(0)) : null;
        Pass.Earlier earlier = from == 0 ? null : (layer, k, v) -> prefix.prefix(layer, from, k, v);
        return new Pass(AttentionMask.causalAfter(m, from, s.get(1)), positions, shortformer, earlier);
    }

    /**
     * A pass over runs packed along the position axis into one residual stream [1, tokens, d_model]: run i is
     * {@code residuals[i]} [rows, pos, d_model] at positions {@code from[i]}.., its rows one after another, as
     * {@link #passOver(NDArray, long, KvCache)} would run it alone. Everything but attention works token by token, so
     * the runs share each matrix product.
     */
    Pass passOverPacked(List<NDArray> residuals, int[] from, KvCache prefix) {
        NDManager m = residuals.get(0).getManager();
        List<Pass.Run> runs = new ArrayList<>();
        NDList positions = new NDList();
        for (int i = 0; i < residuals.size(); i++) {
            Shape s = residuals.get(i).getShape();
            Pass run = passOver(residuals.get(i), from[i], prefix);
            runs.add(new Pass.Run(s.get(0), s.get(1), run));
            positions.add(Tensors.tile(run.positions(), s.get(0)));
        }
        NDArray tokens = NDArrays.concat(positions);
        NDArray shortformer = cfg.positionalEmbedding() == PositionalEmbedding.SHORTFORMER ? posEmbed.table(tokens, 1) : null;
        return new Pass(null, tokens, shortformer, null, runs);
    }
}
