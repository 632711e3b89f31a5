package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;

import dev.loupe.load.ModelFileException;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.tensor.Tensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.function.LongFunction;

/**
 * Activations for SAE training, as SAELens's activation store makes them: token windows run through a model, the
 * activation at a hook point (for a transcoder, at its input and output hook points) harvested from every position,
 * many windows' activations shuffled together, and served in batches [batchSize, d]. The forward pass stops at the
 * block that makes the hook point the store reads (the last of the two for a transcoder,
 * {@link HookedTransformer#runWithCacheUpTo}): the layers above it never run.
 *
 * <p>A refill runs {@code windowsPerRefill} token batches (refill r uses batches r·n … r·n + n − 1 of the source),
 * shuffles their activations with a generator seeded by (seed, r) and serves them in order; SAELens instead carries
 * half of each buffer into the next. Batch i is therefore a function of i alone, and a resumed run that asks for batch
 * i gets what the uninterrupted run got. Rows beyond a whole number of batches are dropped.
 */
public final class ActivationStore {

    /** One batch: the SAE's input and what it reconstructs (the same array for an SAE). */
    public record Batch(NDArray input, NDArray target) {}

    private final HookedTransformer model;
    private final String hookIn;
    private final String hookOut;
    private final LongFunction<NDArray> tokens;
    private final LongFunction<NDArray> activations;
    /** Harvested shards to read instead of running a model, and their folder; null otherwise. */
    private ActivationShards.Index shards;
    private Path shardDir;
    private int batchSize = 4096;
    private int windowsPerRefill = 16;
    private boolean dropBos = true;
    private long seed;
    private double scale = 1;

    private long refill = -1;
    private NDManager buffer;
    private NDArray bufferIn;
    private NDArray bufferOut;
    private long batchesPerRefill;

    private ActivationStore(HookedTransformer model, String hookIn, String hookOut, LongFunction<NDArray> tokens,
                            LongFunction<NDArray> activations) {
        this.model = model;
        this.hookIn = hookIn;
        this.hookOut = hookOut;
        this.tokens = tokens;
        this.activations = activations;
        if (model == null) {
            return;
        }
        for (String hook : List.of(hookIn, hookOut)) {
            if (!model.hookNames().contains(hook)) {
                throw new IllegalArgumentException("The model has no hook point " + hook + "; its residual stream hooks"
                        + " are blocks.{0.." + (model.config().nLayers() - 1) + "}.hook_resid_pre and the like"
                        + " (model.hookNames() lists them all)");
            }
        }
    }

    /**
     * Activations at {@code hookName} of the token batches {@code tokens.apply(0), tokens.apply(1), …} ([batch, ctx]).
     * The store closes each batch once it has run it, so a function serving one array returns a duplicate.
     */
    public static ActivationStore of(HookedTransformer model, String hookName, LongFunction<NDArray> tokens) {
        return new ActivationStore(model, hookName, hookName, tokens, null);
    }

    /** For the SAE a config describes: its input hook, and its output hook for a transcoder. */
    public static ActivationStore of(HookedTransformer model, SaeConfig cfg, LongFunction<NDArray> tokens) {
        return new ActivationStore(model, cfg.hookName(), cfg.hookNameOut(), tokens, null);
    }

    /**
     * Activations made elsewhere (a toy distribution, a file): {@code rows.apply(i)} is the i-th [n, d] block, served
     * shuffled like harvested ones ({@code windowsPerRefill} blocks a refill).
     */
    public static ActivationStore ofActivations(String hookName, LongFunction<NDArray> rows) {
        return new ActivationStore(null, hookName, hookName, null, rows);
    }

    /**
     * Activations harvested to disk ({@code ./loupe spark harvest}, {@link ActivationShards}): {@code hookName}'s rows
     * of shard i are block i, shards taken in order and again from the first once all are read. {@link #dropBos}
     * leaves out the rows at position 0 of their window, as it does for a model.
     */
    public static ActivationStore fromShards(Path dir, String hookName) throws IOException {
        ActivationShards.Index index = ActivationShards.index(dir);
        if (!index.hooks().containsKey(hookName)) {
            throw new IllegalArgumentException("The shards in " + dir + " hold " + String.join(", ", index.hooks().keySet())
                    + ", not " + hookName + "; harvest it with --hooks " + hookName);
        }
        if (index.shards().isEmpty()) {
            throw new IllegalArgumentException("The index in " + dir + " lists no shards");
        }
        ActivationStore store = new ActivationStore(null, hookName, hookName, null, null);
        store.shards = index;
        store.shardDir = dir;
        return store;
    }

    /** Token batches from an iterator, read in order: a resumed run draws (and discards) the batches before its own. */
    public static LongFunction<NDArray> sequential(Iterator<NDArray> batches) {
        long[] next = {0};
        return index -> {
            if (index < next[0]) {
                throw new IllegalStateException("Token batch " + index + " was already drawn from the iterator; "
                        + "a source that can go back (a function of the batch index) can serve it again");
            }
            while (next[0] < index) {
                batches.next().close();
                next[0]++;
            }
            next[0]++;
            return batches.next();
        };
    }

    public ActivationStore batchSize(int rows) {
        batchSize = positive("batchSize", rows);
        return reset();
    }

    /** Token batches mixed in each shuffled refill (SAELens's {@code n_batches_in_buffer}). */
    public ActivationStore windowsPerRefill(int n) {
        windowsPerRefill = positive("windowsPerRefill", n);
        return reset();
    }

    /** Leave out position 0 (the BOS or end-of-text token every window starts with); on by default. */
    public ActivationStore dropBos(boolean drop) {
        dropBos = drop;
        return reset();
    }

    public ActivationStore seed(long s) {
        seed = s;
        return reset();
    }

    /** Multiplies every activation served by {@code s} (see {@link #estimateNormScale}). */
    public ActivationStore scale(double s) {
        scale = s;
        return reset();
    }

    public double scale() {
        return scale;
    }

    public int batchSize() {
        return batchSize;
    }

    public String hookName() {
        return hookIn;
    }

    /**
     * SAELens's {@code expected_average_only_in} factor: √d / (mean ‖x‖ over the first {@code refills} refills' input
     * activations), which makes the average input norm √d.
     */
    public double estimateNormScale(int refills) {
        double saved = scale;
        scale = 1;
        double sum = 0;
        long rows = 0;
        long width = 0;
        for (int r = 0; r < refills; r++) {
            load(r);
            sum += bufferIn.norm(new int[] {1}).sum().toType(DataType.FLOAT64, false).getDouble();
            rows += bufferIn.getShape().get(0);
            width = bufferIn.getShape().get(1);
        }
        scale = saved;
        reset();
        return Math.sqrt(width) / (sum / rows);
    }

    /**
     * Batch {@code index}: [batchSize, d_in] (and [batchSize, d_out]); the caller closes the arrays. The store closes
     * the token batches its source gives it.
     */
    public synchronized Batch batch(long index) {
        if (batchesPerRefill == 0) {
            load(0); // every refill holds as many batches as the first
        }
        if (index / batchesPerRefill != refill) {
            load(index / batchesPerRefill);
        }
        long from = (index % batchesPerRefill) * batchSize;
        NDArray in = bufferIn.get("{}:{}", from, from + batchSize).mul(scale);
        in.attach(Tensors.manager());
        if (hookIn.equals(hookOut)) {
            return new Batch(in, in);
        }
        NDArray out = bufferOut.get("{}:{}", from, from + batchSize).mul(scale);
        out.attach(Tensors.manager());
        return new Batch(in, out);
    }

    private void load(long r) {
        if (buffer != null) {
            buffer.close();
        }
        buffer = NDManager.newBaseManager();
        List<NDArray> ins = new ArrayList<>();
        List<NDArray> outs = new ArrayList<>();
        for (long w = r * windowsPerRefill; w < (r + 1) * windowsPerRefill; w++) {
            if (shards != null) {
                ins.add(shardRows(w));
                continue;
            }
            if (model == null) {
                ins.add(activations.apply(w).toType(DataType.FLOAT32, false));
                continue;
            }
            NDArray tokenBatch = tokens.apply(w);
            try (ActivationCache acts = model.runWithCacheUpTo(tokenBatch, name -> name.equals(hookIn) || name.equals(hookOut))) {
                ins.add(rows(acts.get(hookIn)));
                if (!hookIn.equals(hookOut)) {
                    outs.add(rows(acts.get(hookOut)));
                }
            } finally {
                tokenBatch.close();
            }
        }
        long n = ins.stream().mapToLong(a -> a.getShape().get(0)).sum();
        if (n < batchSize) {
            throw new IllegalArgumentException("A refill of " + windowsPerRefill + " token batches gives " + n
                    + " activations, fewer than a batch of " + batchSize + ": raise windowsPerRefill");
        }
        long[] order = permutation((int) n, new Random(seed * 1_000_003L + r));
        NDArray index = Tensors.ofLongs(order, new ai.djl.ndarray.types.Shape(n));
        bufferIn = keep(NDArrays.concat(new NDList(ins)).get(index));
        bufferOut = hookIn.equals(hookOut) ? bufferIn : keep(NDArrays.concat(new NDList(outs)).get(index));
        ins.forEach(NDArray::close);
        outs.forEach(NDArray::close);
        index.close();
        batchesPerRefill = n / batchSize;
        refill = r;
    }

    /** Shard {@code i} (modulo their number)'s rows at the hook, position 0 left out if asked. */
    private NDArray shardRows(long i) {
        ActivationShards.Entry entry = shards.shards().get((int) (i % shards.shards().size()));
        Path file = shardDir.resolve(entry.file());
        ActivationShards.Shard shard;
        try {
            shard = ActivationShards.read(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        float[] a = shard.activations().get(hookIn);
        if (a == null || shard.tokens() != entry.tokens() || shard.width(hookIn) != shards.hooks().get(hookIn)) {
            throw new UncheckedIOException(new ModelFileException("Shard " + file + " does not match " + ActivationShards.INDEX
                    + ": expected " + entry.tokens() + " tokens of " + hookIn + " " + shards.hooks().get(hookIn) + " wide, got "
                    + (a == null ? "no such tensor" : shard.tokens() + " tokens " + shard.width(hookIn) + " wide")));
        }
        int width = shard.width(hookIn);
        int kept = 0;
        float[] rows = new float[a.length];
        for (int t = 0; t < shard.tokens(); t++) {
            if (!dropBos || shard.positions()[t] != 0) {
                System.arraycopy(a, t * width, rows, kept++ * width, width);
            }
        }
        return Tensors.ofFloats(java.util.Arrays.copyOf(rows, kept * width), new ai.djl.ndarray.types.Shape(kept, width));
    }

    /** The buffer outlives the NDScope of the training step that filled it. */
    private NDArray keep(NDArray a) {
        NDScope.unregister(a);
        a.attach(buffer);
        return a;
    }

    /** [batch, pos, ...] to [rows, d], position 0 left out if asked; hook_z's heads flattened, as SAELens reads it. */
    private NDArray rows(NDArray act) {
        NDArray a = dropBos ? act.get(":, 1:") : act;
        long b = a.getShape().get(0);
        long p = a.getShape().get(1);
        return a.reshape(b * p, -1).toType(DataType.FLOAT32, false);
    }

    private static long[] permutation(int n, Random random) {
        long[] p = new long[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            long t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    private ActivationStore reset() {
        refill = -1;
        batchesPerRefill = 0;
        return this;
    }

    private static int positive(String what, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(what + " must be positive; got " + value);
        }
        return value;
    }
}
