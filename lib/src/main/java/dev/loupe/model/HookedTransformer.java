package dev.loupe.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import dev.loupe.cache.ActivationCache;
import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.display.ModelView;
import dev.loupe.hook.Hook;
import dev.loupe.hook.HookPoint;
import dev.loupe.load.Checkpoint;
import dev.loupe.load.AtomicFiles;
import dev.loupe.load.LoadOptions;
import dev.loupe.load.ModelLoadException;
import dev.loupe.load.Pretrained;
import dev.loupe.load.Safetensors;
import dev.loupe.load.SavedModel;
import dev.loupe.model.ModelConfig.Normalization;
import dev.loupe.model.ModelConfig.PositionalEmbedding;
import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A GPT-2-style transformer whose every activation is reachable by name, TransformerLens's
 * {@code HookedTransformer}. The forward pass reads top to bottom in {@link #run}; each component
 * (Embed, PosEmbed, TransformerBlock with LayerNorm, Attention and Mlp, Unembed) makes its hook points
 * where it makes the activations. Parameters are plain named arrays ({@link #stateDict()}) under
 * TransformerLens's names.
 */
public final class HookedTransformer implements AutoCloseable, Displayable {

    private final ModelConfig cfg;
    private final Params declared = new Params();
    private final Map<String, NDArray> params = declared.values();
    private final HookRegistry hooks = new HookRegistry();
    private final Embed embed;
    private final PosEmbed posEmbed;      // learned positions, or null (rotary)
    private final List<TransformerBlock> blocks = new ArrayList<>();
    private final Norm lnFinal;           // or null
    private final Unembed unembed;
    private Tokenizer tokenizer;
    private Checkpoint checkpoint;
    private volatile boolean closed;

    /** The components the config chooses, declaring their parameters (no arrays yet) and hook points. */
    private HookedTransformer(ModelConfig cfg) {
        this.cfg = cfg;
        Scope root = new Scope(declared, hooks);
        embed = new Embed(root, cfg);
        posEmbed = cfg.positionalEmbedding() != PositionalEmbedding.ROTARY ? new PosEmbed(root, cfg) : null;
        for (int layer = 0; layer < cfg.nLayers(); layer++) {
            blocks.add(new TransformerBlock(root.child("blocks." + layer), cfg, layer));
        }
        lnFinal = Norm.orNone(root.child("ln_final"), cfg.normalization(), cfg.eps(), cfg.dModel());
        unembed = new Unembed(root, cfg);
    }

    // ---------------------------------------------------------------- construction, saving, loading

    /** A model with random weights from the config's seed. */
    public static HookedTransformer create(ModelConfig cfg) {
        return create(cfg, cfg.seed());
    }

    /** A model with random weights: normal(0, initializer_range) matrices, zero biases, unit norm weights. */
    public static HookedTransformer create(ModelConfig cfg, long seed) {
        Engine.getInstance().setRandomSeed((int) seed);
        NDManager m = Tensors.manager();
        HookedTransformer model = new HookedTransformer(cfg);
        model.declared.specs().forEach((name, spec) -> model.params.put(name, switch (spec.init()) {
            case NORMAL -> m.randomNormal(0f, (float) cfg.initRange(), spec.shape(), cfg.dtype());
            case ONES -> m.ones(spec.shape(), cfg.dtype());
            case ZEROS -> m.zeros(spec.shape(), cfg.dtype());
        }));
        return model;
    }

    /**
     * A model from a state dict with TransformerLens's names. Every expected parameter must be present with
     * its shape; arrays are converted to the config's dtype.
     */
    public static HookedTransformer fromStateDict(ModelConfig cfg, Map<String, NDArray> stateDict) {
        HookedTransformer model = new HookedTransformer(cfg);
        Map<String, Shape> expected = model.shapes();
        List<String> problems = new ArrayList<>();
        Map<String, NDArray> params = model.params;
        expected.forEach((name, shape) -> {
            NDArray a = stateDict.get(name);
            if (a == null) {
                problems.add("missing " + name + " " + shape);
            } else if (!a.getShape().equals(shape)) {
                problems.add(name + " has shape " + a.getShape() + ", expected " + shape);
            } else {
                params.put(name, a.getDataType() == cfg.dtype() ? a : a.toType(cfg.dtype(), false));
            }
        });
        for (String name : stateDict.keySet()) {
            if (!expected.containsKey(name)) {
                problems.add("unexpected " + name);
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("The state dict does not fit " + cfg.modelName() + " (" + cfg + "): "
                    + String.join("; ", problems));
        }
        return model;
    }

    /**
     * A pretrained model, processed as TransformerLens does by default (layer norms folded, writing weights and
     * unembedding centred, value biases folded): a short name ({@code "gpt2"}; see {@code ModelRegistry.table()}),
     * a Hugging Face repository id, or a local folder in Hugging Face's layout. Downloads go to the Hugging Face
     * cache ({@code HF_HOME}), where weights Python already fetched are found; {@code HF_HUB_OFFLINE=1} never
     * touches the network.
     */
    public static HookedTransformer fromPretrained(String name) {
        return fromPretrained(name, LoadOptions.defaults());
    }

    public static HookedTransformer fromPretrained(String name, LoadOptions options) {
        try {
            return Pretrained.fromPretrained(name, options);
        } catch (IOException e) {
            throw new ModelLoadException(e.getMessage(), e);
        }
    }

    /** The weights exactly as published: full layer norms, nothing folded or centred. */
    public static HookedTransformer fromPretrainedNoProcessing(String name) {
        return fromPretrained(name, LoadOptions.noProcessing());
    }

    /**
     * Loads a model saved by {@link #save}: config.json and model.safetensors in {@code dir}. A file that is malformed
     * or does not fit the other fails with a {@link dev.loupe.load.ModelFileException} naming it and what is wrong.
     */
    public static HookedTransformer load(Path dir) throws IOException {
        Path config = dir.resolve("config.json");
        Path weights = dir.resolve("model.safetensors");
        for (Path p : List.of(config, weights)) {
            if (!Files.isRegularFile(p)) {
                throw new IOException("Cannot load a model from " + dir + ": " + p.getFileName() + " is missing.");
            }
        }
        ModelConfig cfg = SavedModel.config(config);
        SavedModel.checkFits(cfg, config, Safetensors.entries(weights), weights);
        return fromStateDict(cfg, Safetensors.read(weights));
    }

    /** Writes config.json and model.safetensors into {@code dir}; each file appears whole or not at all. */
    public void save(Path dir) throws IOException {
        save(dir, cfg.dtype());
    }

    /**
     * As {@link #save(Path)}, with the weights stored as {@code storage}: FLOAT16 halves a committed model's size, and
     * loading widens the weights back to the config's type. The model itself is unchanged.
     */
    public void save(Path dir, DataType storage) throws IOException {
        Files.createDirectories(dir);
        Map<String, NDArray> stored = params;
        if (storage != cfg.dtype()) {
            stored = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> p : params.entrySet()) {
                stored.put(p.getKey(), p.getValue().toType(storage, false));
            }
        }
        Safetensors.write(dir.resolve("model.safetensors"), stored);
        AtomicFiles.write(dir.resolve("config.json"), out -> out.write(cfg.toJson().getBytes(StandardCharsets.UTF_8)));
    }

    /** Every parameter's name and shape for this config, in state-dict order, as its components declare them. */
    public static Map<String, Shape> parameterShapes(ModelConfig c) {
        return new HookedTransformer(c).shapes();
    }

    private Map<String, Shape> shapes() {
        Map<String, Shape> s = new LinkedHashMap<>();
        declared.specs().forEach((name, spec) -> s.put(name, spec.shape()));
        return s;
    }

    // ---------------------------------------------------------------- the forward pass

    /** Logits [batch, pos, d_vocab_out] for tokens [batch, pos] (or [pos]). */
    public NDArray forward(NDArray tokens) {
        return run(tokens, null, null);
    }

    /**
     * Logits with an attention mask [batch, pos] (1 for real tokens, 0 for padding): padding keys are never
     * attended to and positions count from each row's first real token, so padding does not change the
     * logits of real tokens.
     */
    public NDArray forward(NDArray tokens, NDArray attentionMask) {
        return run(tokens, attentionMask, null);
    }

    /** An empty cache of keys and values for {@link #forward(NDArray, KvCache)}. */
    public KvCache newKvCache() {
        return new KvCache(cfg.nLayers());
    }

    /**
     * Logits for tokens that continue the positions already in {@code cache}, which then holds these too. The
     * first call passes the prompt; each later one the next tokens. Hooks see only the new positions.
     */
    public NDArray forward(NDArray tokens, KvCache cache) {
        return run(tokens, null, cache);
    }

    private synchronized NDArray run(NDArray tokens, NDArray attentionMask, KvCache cache) {
        checkOpen();
        try (NDScope scope = new NDScope()) {
            NDArray input = checkTokens(tokens, cache == null ? 0 : cache.length());
            NDArray mask = checkMask(attentionMask, input.getShape());
            long batch = input.getShape().get(0);
            long pos = input.getShape().get(1);
            long past = cache == null ? 0 : cache.length();
            NDManager m = input.getManager();

            NDArray positions = mask == null ? m.arange(past, past + pos)
                    : mask.cumSum(1).sub(1).maximum(0); // left padding: the first real token is position 0
            NDArray residual = embed.forward(input);
            NDArray shortformerPos = null;
            if (posEmbed != null) {
                NDArray posEmbedding = posEmbed.forward(positions, batch);
                if (cfg.positionalEmbedding() == PositionalEmbedding.SHORTFORMER) {
                    shortformerPos = posEmbedding;
                } else {
                    residual = residual.add(posEmbedding);
                }
            }
            AttentionMask attend = cache == null ? AttentionMask.causal(m, pos, mask) : AttentionMask.causalAfter(m, past, pos);
            NDArray logits = blocksAndUnembed(0, residual, new Pass(attend, positions, shortformerPos, cache), null);
            NDScope.unregister(logits);
            if (cache != null) {
                cache.commit(pos);
            }
            return logits;
        }
    }

    private NDArray blocksAndUnembed(int startLayer, NDArray residual, Pass pass, long[] unembedAt) {
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

    private NDArray runBlocks(int startLayer, int stopAtLayer, NDArray residual, Pass pass) {
        for (TransformerBlock block : blocks.subList(startLayer, stopAtLayer)) {
            residual = block.forward(residual, pass);
        }
        return residual;
    }

    /**
     * Blocks {@code startLayer..stopAtLayer-1} only, from a residual stream taken as {@code startLayer}'s
     * {@code hook_resid_pre}, with their hooks: the residual stream that enters block {@code stopAtLayer}
     * (TransformerLens's {@code start_at_layer} and {@code stop_at_layer}). Work that needs activations of early
     * layers only stops there.
     */
    public synchronized NDArray residualAt(int startLayer, int stopAtLayer, NDArray residual) {
        checkOpen();
        if (startLayer < 0 || stopAtLayer < startLayer || stopAtLayer > cfg.nLayers()) {
            throw new IllegalArgumentException("Need 0 <= startLayer <= stopAtLayer <= " + cfg.nLayers() + ", got " + startLayer
                    + " and " + stopAtLayer);
        }
        Shape s = checkResidual(residual);
        try (NDScope scope = new NDScope()) {
            NDArray out = runBlocks(startLayer, stopAtLayer, residual, passOver(residual));
            NDScope.unregister(out);
            return out;
        }
    }

    /**
     * Logits from a residual stream [batch, pos, d_model] taken as {@code blocks.{startLayer}.hook_resid_pre}:
     * only blocks {@code startLayer..} run, with their hooks, as TransformerLens's
     * {@code forward(resid, start_at_layer=startLayer)}. {@code startLayer = n_layers} applies just the final
     * layer norm and unembedding. No padding mask: every position is a real token.
     */
    public NDArray forwardFromLayer(int startLayer, NDArray residual) {
        return forwardFromLayer(startLayer, residual, null);
    }

    /**
     * As {@link #forwardFromLayer(int, NDArray)}, but unembeds only position {@code unembedAt[i]} of row i (null for
     * all positions): logits [batch, 1, d_vocab_out]. The final layer norm's hooks then see those positions alone.
     * A metric that reads one position per prompt needs no more, and a vocabulary of 50,257 makes the logits of
     * every position the largest array of a batched patching run.
     */
    public synchronized NDArray forwardFromLayer(int startLayer, NDArray residual, long[] unembedAt) {
        checkOpen();
        if (startLayer < 0 || startLayer > cfg.nLayers()) {
            throw new IllegalArgumentException("startLayer must be in [0, " + cfg.nLayers() + "], got " + startLayer);
        }
        Shape s = checkResidual(residual);
        if (unembedAt != null) {
            if (unembedAt.length != s.get(0)) {
                throw new IllegalArgumentException("unembedAt names a position for " + unembedAt.length + " rows but the residual"
                        + " stream " + s + " has " + s.get(0));
            }
            for (int i = 0; i < unembedAt.length; i++) {
                if (unembedAt[i] < 0 || unembedAt[i] >= s.get(1)) {
                    throw new IllegalArgumentException("unembedAt[" + i + "] = " + unembedAt[i] + " is not a position of the"
                            + " residual stream " + s);
                }
            }
        }
        try (NDScope scope = new NDScope()) {
            NDArray logits = blocksAndUnembed(startLayer, residual, passOver(residual), unembedAt);
            NDScope.unregister(logits);
            return logits;
        }
    }

    private Shape checkResidual(NDArray residual) {
        Shape s = residual.getShape();
        if (s.dimension() != 3 || s.get(2) != cfg.dModel() || s.get(1) > cfg.nCtx()) {
            throw new IllegalArgumentException("The residual stream must be [batch, pos <= " + cfg.nCtx() + ", "
                    + cfg.dModel() + "], got " + s);
        }
        return s;
    }

    /** A pass over a residual stream [batch, pos, d_model] of real tokens at positions 0..pos-1, without a cache. */
    private Pass passOver(NDArray residual) {
        NDManager m = residual.getManager();
        Shape s = residual.getShape();
        NDArray positions = m.arange(s.get(1));
        // Shortformer models add positions to the inputs of queries and keys in every block.
        NDArray shortformer = cfg.positionalEmbedding() == PositionalEmbedding.SHORTFORMER ? posEmbed.table(positions, s.get(0)) : null;
        return new Pass(AttentionMask.causal(m, s.get(1), null), positions, shortformer, null);
    }

    private NDArray checkTokens(NDArray tokens) {
        return checkTokens(tokens, 0);
    }

    private NDArray checkTokens(NDArray tokens, long cached) {
        Shape s = tokens.getShape();
        if (s.dimension() == 1) {
            tokens = tokens.reshape(1, s.get(0));
            s = tokens.getShape();
        }
        if (s.dimension() != 2 || s.get(1) == 0) {
            throw new IllegalArgumentException("Tokens must have shape [batch, pos] (or [pos]), got " + s);
        }
        DataType t = tokens.getDataType();
        if (t != DataType.INT64 && t != DataType.INT32) {
            throw new IllegalArgumentException("Tokens must be integer ids (int64 or int32), got " + t
                    + ". Make them with model.toTokens(...).");
        }
        if (cached + s.get(1) > cfg.nCtx()) {
            throw new IllegalArgumentException("The sequence has " + (cached + s.get(1)) + " tokens"
                    + (cached > 0 ? " (" + cached + " cached)" : "") + " but " + cfg.modelName()
                    + " has n_ctx = " + cfg.nCtx() + ". Truncate or split it into pieces of at most " + cfg.nCtx() + " tokens.");
        }
        NDArray ids64 = t == DataType.INT64 ? tokens : tokens.toType(DataType.INT64, false);
        long[] ids = ids64.toLongArray();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= cfg.dVocab()) {
                throw new IllegalArgumentException("Token id " + ids[i] + " at [" + i / s.get(1) + ", " + i % s.get(1)
                        + "] is out of range: " + cfg.modelName() + " has d_vocab = " + cfg.dVocab()
                        + ", so ids must be in [0, " + (cfg.dVocab() - 1) + "].");
            }
        }
        return ids64;
    }

    private static NDArray checkMask(NDArray mask, Shape tokenShape) {
        if (mask == null) {
            return null;
        }
        if (mask.getShape().dimension() == 1) {
            mask = mask.reshape(1, mask.getShape().get(0));
        }
        if (!mask.getShape().equals(tokenShape)) {
            throw new IllegalArgumentException("The attention mask has shape " + mask.getShape()
                    + " but the tokens have shape " + tokenShape + "; they must match.");
        }
        return mask.toType(DataType.INT64, false);
    }

    // ---------------------------------------------------------------- losses

    /** Mean next-token cross-entropy over all predicted positions. */
    public NDArray loss(NDArray tokens) {
        try (NDScope scope = new NDScope()) {
            NDArray loss = lossPerToken(tokens).mean();
            NDScope.unregister(loss);
            return loss;
        }
    }

    /** Next-token cross-entropy at each position: [batch, pos - 1]. */
    public NDArray lossPerToken(NDArray tokens) {
        try (NDScope scope = new NDScope()) {
            NDArray perToken = crossEntropyPerToken(forward(tokens), checkTokens(tokens));
            NDScope.unregister(perToken);
            return perToken;
        }
    }

    /** −log p(token[i+1] | tokens[..i]) from logits [batch, pos, vocab]: [batch, pos - 1]. */
    public static NDArray crossEntropyPerToken(NDArray logits, NDArray tokens) {
        long pos = logits.getShape().get(1);
        if (pos < 2) {
            throw new IllegalArgumentException("Next-token loss needs at least 2 positions, got " + pos);
        }
        NDArray logProbs = logits.get(":, :-1, :").logSoftmax(-1);
        NDArray next = tokens.reshape(logits.getShape().get(0), pos).get(":, 1:").toType(DataType.INT64, false);
        return logProbs.gather(next.expandDims(-1), -1).squeeze(-1).neg();
    }

    // ---------------------------------------------------------------- caches and hooks

    /**
     * Runs the model keeping every activation except the per-head {@code hook_result} (n_heads times the size
     * of {@code hook_z}, from which it follows; name it in a filter to keep it). The cache also holds the logits.
     */
    public ActivationCache runWithCache(NDArray tokens) {
        return runWithCache(tokens, null, name -> !name.endsWith("hook_result"));
    }

    /** Runs the model keeping the activations whose names the filter accepts (at least one must match). */
    public ActivationCache runWithCache(NDArray tokens, Predicate<String> namesFilter) {
        return runWithCache(tokens, null, namesFilter);
    }

    public synchronized ActivationCache runWithCache(NDArray tokens, NDArray attentionMask, Predicate<String> namesFilter) {
        List<HookPoint> recorded = matching(namesFilter);
        Map<String, NDArray> activations = new LinkedHashMap<>();
        try {
            recorded.forEach(p -> p.recordInto(activations));
            NDArray logits = run(tokens, attentionMask, null);
            return new ActivationCache(this, activations, logits, null);
        } finally {
            recorded.forEach(HookPoint::stopRecording);
        }
    }

    /**
     * Runs the model keeping the filtered activations and the gradient of {@code metric(logits)} (a scalar)
     * with respect to each of them, TransformerLens's {@code run_with_cache(incl_bwd=True)}. The model's
     * weights get no gradients.
     */
    public synchronized ActivationCache runWithGradCache(NDArray tokens, Predicate<String> namesFilter, Function<NDArray, NDArray> metric) {
        List<HookPoint> recorded = matching(namesFilter);
        Map<String, NDArray> activations = new LinkedHashMap<>();
        Map<String, NDArray> probes = new LinkedHashMap<>();
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            recorded.forEach(p -> {
                p.recordInto(activations);
                p.probeGradientsInto(probes);
            });
            NDArray logits = run(tokens, null, null);
            NDArray value = metric.apply(logits);
            if (value == null || value.size() != 1) {
                throw new IllegalArgumentException("The metric must return a scalar; it returned "
                        + (value == null ? "null" : "shape " + value.getShape()));
            }
            collector.backward(value);
            Map<String, NDArray> gradients = new LinkedHashMap<>();
            probes.forEach((name, probe) -> gradients.put(name, probe.getGradient().duplicate()));
            probes.values().forEach(NDArray::close);
            activations.replaceAll((name, a) -> detached(a));
            return new ActivationCache(this, activations, detached(logits), gradients);
        } finally {
            recorded.forEach(HookPoint::stopRecording);
        }
    }

    /** The same values without the autograd graph, so the graph's memory can go. */
    private static NDArray detached(NDArray a) {
        NDArray d = a.stopGradient();
        a.close();
        return d;
    }

    /**
     * Logits of a run with these hooks attached; they are removed afterwards, also if the run fails. Other threads'
     * runs of this model meanwhile do not see them.
     */
    public NDArray runWithHooks(NDArray tokens, Hook... fwdHooks) {
        try (HookSession session = hooks(fwdHooks)) {
            return forward(tokens);
        }
    }

    /**
     * Attaches hooks until the returned session is closed: {@code try (var h = model.hooks(...)) { ... }},
     * TransformerLens's {@code with model.hooks(...)}. Closing removes them even after an exception. They act on
     * the runs of this thread only.
     */
    public HookSession hooks(Hook... fwdHooks) {
        HookSession session = new HookSession();
        try {
            for (Hook hook : fwdHooks) {
                List<HookPoint> points = hook.name() != null ? List.of(hooks.get(hook.name())) : matching(hook.filter());
                for (HookPoint p : points) {
                    session.attach(p, hook);
                }
            }
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
        return session;
    }

    /**
     * Attaches a hook that stays until {@link #resetHooks()}, TransformerLens's {@code add_hook}. Unlike
     * {@link #hooks} it acts on every run, from any thread.
     */
    public void addHook(String name, dev.loupe.hook.HookFn fn) {
        hooks.get(name).add(fn);
    }

    /** Removes every hook from every hook point. */
    public void resetHooks() {
        hooks.all().forEach(HookPoint::clearHooks);
    }

    private List<HookPoint> matching(Predicate<String> filter) {
        List<HookPoint> found = new ArrayList<>();
        for (HookPoint p : hooks.all()) {
            if (filter.test(p.name())) {
                found.add(p);
            }
        }
        if (found.isEmpty()) {
            throw new IllegalArgumentException("The names filter matches none of the model's " + hookNames().size()
                    + " hook points (e.g. " + hookNames().get(0) + ", " + hookNames().get(hookNames().size() - 1)
                    + "); nothing would be cached or hooked.");
        }
        return found;
    }

    /** Every hook point name, in the order the forward pass reaches them. */
    public List<String> hookNames() {
        return hooks.names();
    }

    /** The hook point with this full name; an unknown name fails with the closest ones. */
    public HookPoint hookPoint(String name) {
        return hooks.get(name);
    }

    // ---------------------------------------------------------------- generation

    /**
     * Extends each row of tokens [batch, pos] by up to {@code maxNewTokens} tokens, one position per step thanks to
     * a {@link KvCache}, with whatever hooks are attached (so a steering hook steers; it sees the new position). With stopAtEos, a row that has produced
     * {@code eosTokenId} continues with it as padding, and generation ends when every row has. Inputs longer
     * than n_ctx keep their last n_ctx tokens as context.
     */
    public NDArray generate(NDArray tokens, GenerateOptions options, Integer eosTokenId) {
        NDArray input = tokens.getShape().dimension() == 1 ? tokens.reshape(1, tokens.getShape().get(0)) : tokens;
        int batch = (int) input.getShape().get(0);
        long[][] rows = new long[batch][];
        long[] flat = input.toType(DataType.INT64, false).toLongArray();
        int start = (int) input.getShape().get(1);
        for (int b = 0; b < batch; b++) {
            rows[b] = java.util.Arrays.copyOfRange(flat, b * start, (b + 1) * start);
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
                cache = newKvCache();
            }
            long[] window = new long[batch * (len - from)];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(rows[b], from, window, b * (len - from), len - from);
            }
            double[] last;
            try (NDScope scope = new NDScope()) {
                NDArray logits = forward(Tensors.ofLongs(window, new Shape(batch, len - from)), cache);
                last = logits.get(":, -1, :").toType(DataType.FLOAT64, false).toDoubleArray();
                logits.close();
            }
            int vocab = last.length / batch;
            for (int b = 0; b < batch; b++) {
                long next = finished[b] ? eosTokenId
                        : sampler.next(java.util.Arrays.copyOfRange(last, b * vocab, (b + 1) * vocab));
                rows[b] = java.util.Arrays.copyOf(rows[b], len + 1);
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

    private static boolean allTrue(boolean[] values) {
        for (boolean v : values) {
            if (!v) {
                return false;
            }
        }
        return true;
    }

    /** Records the checkpoint the weights were read from; returns the model. */
    public HookedTransformer withCheckpoint(Checkpoint checkpoint) {
        this.checkpoint = checkpoint;
        return this;
    }

    /**
     * The checkpoint a pretrained model was read from: repository, commit and the weights' sha256 (empty for a model
     * made with {@code create} or {@code fromStateDict}).
     */
    public Optional<Checkpoint> checkpoint() {
        return Optional.ofNullable(checkpoint);
    }

    // ---------------------------------------------------------------- tokens

    /** Gives the model a tokenizer (its vocabulary must fit d_vocab); returns the model. */
    public HookedTransformer withTokenizer(Tokenizer tokenizer) {
        if (tokenizer.vocabSize() > cfg.dVocab()) {
            throw new IllegalArgumentException("The tokenizer has " + tokenizer.vocabSize() + " tokens but " + cfg.modelName()
                    + " has d_vocab = " + cfg.dVocab());
        }
        this.tokenizer = tokenizer;
        return this;
    }

    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    private Tokenizer requireTokenizer() {
        if (tokenizer == null) {
            throw new IllegalStateException(cfg.modelName() + " has no tokenizer (it was made from a config, or its folder had"
                    + " no tokenizer.json or vocab.json + merges.txt). Pass token ids with toTokens(new int[]{...}), or give"
                    + " it one: model.withTokenizer(Gpt2Tokenizer.bundled()).");
        }
        return tokenizer;
    }

    /** Exactly these token ids, shape [1, n], no BOS added. */
    public NDArray toTokens(int[] ids) {
        for (int id : ids) {
            if (id < 0 || id >= cfg.dVocab()) {
                throw new IllegalArgumentException("Token id " + id + " is out of range [0, " + (cfg.dVocab() - 1) + "]");
            }
        }
        return Tensors.tokens(ids);
    }

    /** The text's tokens [1, pos], with BOS first (TransformerLens's default, prepend_bos=True). */
    /** The text's tokens [1, pos], BOS first where the model's tokenizer has one (Qwen's has none). */
    public NDArray toTokens(String text) {
        return toTokens(text, prependsBos());
    }

    /** TransformerLens's default_prepend_bos: true unless the tokenizer says the family has no BOS. */
    private boolean prependsBos() {
        return requireTokenizer().bosTokenId().isPresent();
    }

    public NDArray toTokens(String text, boolean prependBos) {
        return Tensors.tokens(encode(text, prependBos));
    }

    /** Several texts padded into one batch, BOS first, padding on the right. */
    public TokenBatch toTokens(List<String> texts) {
        return toTokens(texts, prependsBos(), TokenBatch.PaddingSide.RIGHT);
    }

    public TokenBatch toTokens(List<String> texts, boolean prependBos, TokenBatch.PaddingSide side) {
        Tokenizer t = requireTokenizer();
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
            java.util.Arrays.fill(tokens, r * width, (r + 1) * width, pad);
            for (int i = 0; i < ids.length; i++) {
                tokens[r * width + offset + i] = ids[i];
                mask[r * width + offset + i] = 1;
            }
        }
        Shape shape = new Shape(rows.size(), width);
        return new TokenBatch(Tensors.ofLongs(tokens, shape), Tensors.ofLongs(mask, shape));
    }

    private int[] encode(String text, boolean prependBos) {
        Tokenizer t = requireTokenizer();
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

    /** The text's tokens as strings, BOS first: {@code ["<|endoftext|>", "When", " John", ...]}. */
    public List<String> toStrTokens(String text) {
        return toStrTokens(text, prependsBos());
    }

    public List<String> toStrTokens(String text, boolean prependBos) {
        return strings(encode(text, prependBos));
    }

    /** Each token of a sequence [pos] or [1, pos] as a string. */
    public List<String> toStrTokens(NDArray tokens) {
        return strings(singleSequence(tokens));
    }

    private List<String> strings(int[] ids) {
        Tokenizer t = requireTokenizer();
        List<String> out = new ArrayList<>(ids.length);
        for (int id : ids) {
            out.add(t.tokenString(id));
        }
        return out;
    }

    /** The id of a text that is exactly one token, e.g. {@code " Mary"}; anything else fails showing its tokens. */
    public int toSingleToken(String text) {
        int[] ids = requireTokenizer().encode(text);
        if (ids.length != 1) {
            throw new IllegalArgumentException("'" + text + "' is " + ids.length + " tokens, not one: " + strings(ids));
        }
        return ids[0];
    }

    /** The text of a sequence of tokens [pos] or [1, pos], TransformerLens's {@code to_string}. */
    public String toString(NDArray tokens) {
        return requireTokenizer().decode(singleSequence(tokens));
    }

    private static int[] singleSequence(NDArray tokens) {
        Shape s = tokens.getShape();
        if (s.dimension() > 2 || (s.dimension() == 2 && s.get(0) != 1)) {
            throw new IllegalArgumentException("Expected one sequence, [pos] or [1, pos]; got shape " + s);
        }
        return tokens.toType(DataType.INT32, false).toIntArray();
    }

    /** The prompt followed by generated text (BOS prepended for the model, not shown), with the model's end-of-text. */
    public String generate(String prompt, GenerateOptions options) {
        Tokenizer t = requireTokenizer();
        boolean bos = t.bosTokenId().isPresent();
        NDArray out = generate(toTokens(prompt, bos), options, t.eosTokenId().isPresent() ? t.eosTokenId().getAsInt() : null);
        return toString(bos ? out.get(":, 1:") : out);
    }

    // ---------------------------------------------------------------- weights by TransformerLens's names

    public ModelConfig config() {
        return cfg;
    }

    /** Parameters by name, in state-dict order (read-only view; the arrays are the model's own). */
    public Map<String, NDArray> stateDict() {
        return Collections.unmodifiableMap(params);
    }

    public NDArray parameter(String name) {
        checkOpen();
        NDArray p = params.get(name);
        if (p == null) {
            throw new IllegalArgumentException("No parameter '" + name + "'. Closest: "
                    + dev.loupe.hook.ActNames.closest(name, params.keySet(), 3));
        }
        return p;
    }

    /** Replaces a parameter (same shape); the next forward pass uses it. */
    public void setParameter(String name, NDArray value) {
        NDArray old = parameter(name);
        if (!old.getShape().equals(value.getShape())) {
            throw new IllegalArgumentException("Parameter " + name + " has shape " + old.getShape() + ", got " + value.getShape());
        }
        params.put(name, value.getDataType() == cfg.dtype() ? value : value.toType(cfg.dtype(), false));
    }

    public long parameterCount() {
        return params.values().stream().mapToLong(NDArray::size).sum();
    }

    /** [d_vocab, d_model] */
    public NDArray W_E() { return parameter("embed.W_E"); }
    /** [n_ctx, d_model] */
    public NDArray W_pos() { return parameter("pos_embed.W_pos"); }
    /** [d_model, d_vocab_out] */
    public NDArray W_U() { return parameter("unembed.W_U"); }
    public NDArray b_U() { return parameter("unembed.b_U"); }
    /** [head, d_model, d_head] */
    public NDArray W_Q(int layer) { return parameter(attn(layer, "W_Q")); }
    /** [head, d_model, d_head]: with grouped-query attention, each key/value head repeated for its query heads. */
    public NDArray W_K(int layer) { return perQueryHead(parameter(attn(layer, "W_K"))); }
    public NDArray W_V(int layer) { return perQueryHead(parameter(attn(layer, "W_V"))); }
    /** [head, d_head, d_model] */
    public NDArray W_O(int layer) { return parameter(attn(layer, "W_O")); }
    /** [head, d_head] (keys and values repeated per query head as W_K) */
    public NDArray b_Q(int layer) { return parameter(attn(layer, "b_Q")); }
    public NDArray b_K(int layer) { return perQueryHead(parameter(attn(layer, "b_K"))); }
    public NDArray b_V(int layer) { return perQueryHead(parameter(attn(layer, "b_V"))); }
    /** [d_model] */
    public NDArray b_O(int layer) { return parameter(attn(layer, "b_O")); }
    /** [d_model, d_mlp] */
    public NDArray W_in(int layer) { return parameter(mlp(layer, "W_in")); }
    public NDArray b_in(int layer) { return parameter(mlp(layer, "b_in")); }
    /** [d_mlp, d_model] */
    public NDArray W_out(int layer) { return parameter(mlp(layer, "W_out")); }
    public NDArray b_out(int layer) { return parameter(mlp(layer, "b_out")); }
    /** [d_model, d_mlp], gated MLPs only */
    public NDArray W_gate(int layer) { return parameter(mlp(layer, "W_gate")); }

    /** A key or value parameter [kv_head, ...] as [head, ...]; the stored array itself without grouped-query attention. */
    private NDArray perQueryHead(NDArray kv) {
        long group = cfg.nHeads() / cfg.nKeyValueHeads();
        return group == 1 ? kv : kv.repeat(0, group);
    }

    private String attn(int layer, String name) {
        checkLayer(layer);
        return "blocks." + layer + ".attn." + name;
    }

    private String mlp(int layer, String name) {
        checkLayer(layer);
        if (cfg.attnOnly()) {
            throw new IllegalArgumentException(cfg.modelName() + " is attention-only: it has no " + name);
        }
        return "blocks." + layer + ".mlp." + name;
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= cfg.nLayers()) {
            throw new IllegalArgumentException("Layer " + layer + " does not exist; " + cfg.modelName()
                    + " has layers 0.." + (cfg.nLayers() - 1));
        }
    }

    /** Frees the parameters now (otherwise they go when the model is unreferenced). */
    @Override
    public void close() {
        closed = true;
        params.values().forEach(NDArray::close);
    }

    /** A closed model's weights are freed: say which model, rather than let libtorch report a released resource. */
    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("The model " + cfg.modelName() + " was closed (model.close()), so its weights"
                    + " are freed; load or create it again.");
        }
    }

    /** In a notebook: the config as a table, with parameter count and tokenizer; the text is {@link #toString()}. */
    @Override
    public MimeBundle mimeBundle() {
        return ModelView.bundle(this);
    }

    @Override
    public String toString() {
        return String.format("HookedTransformer(%s)%n%,d parameters, %d hook points", cfg, parameterCount(), hookNames().size());
    }
}
