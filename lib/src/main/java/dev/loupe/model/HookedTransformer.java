package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.hook.HookPoint;
import dev.loupe.hook.Splice;
import dev.loupe.load.Checkpoint;
import dev.loupe.load.LoadOptions;
import dev.loupe.tokenize.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A transformer whose every activation is reachable by name, TransformerLens's {@code HookedTransformer}: GPT-2,
 * GPT-Neo, GPT-J, GPT-NeoX, Llama, Mistral, Qwen and Gemma, as the config composes them. The forward pass reads
 * top to bottom in {@code Architecture.forward}; each component (Embed, PosEmbed, TransformerBlock with Norm,
 * Attention (with Rotary) and Mlp, Unembed) declares its parameters and makes its hook points where it makes the
 * activations. Parameters are plain named arrays ({@link #stateDict()}) under TransformerLens's names.
 */
public final class HookedTransformer implements AutoCloseable, Displayable {

    private final ModelConfig cfg;
    private final Weights weights;
    private final HookRegistry hooks = new HookRegistry();
    private final Architecture architecture;
    private final Tokenization text;
    private Checkpoint checkpoint;

    /** The components the config chooses, declaring their parameters (no arrays yet) and hook points. */
    private HookedTransformer(ModelConfig cfg) {
        this.cfg = cfg;
        this.text = new Tokenization(cfg);
        this.weights = new Weights(cfg);
        this.architecture = new Architecture(new Scope(weights.declared(), hooks), cfg);
    }

    // ---------------------------------------------------------------- construction, saving, loading

    /** A model with random weights from the config's seed. */
    public static HookedTransformer create(ModelConfig cfg) { return create(cfg, cfg.seed()); }

    /** A model with random weights: normal(0, initializer_range) matrices, zero biases, unit norm weights. */
    public static HookedTransformer create(ModelConfig cfg, long seed) {
        HookedTransformer model = new HookedTransformer(cfg);
        model.weights.initialise(seed);
        return model;
    }

    /**
     * A model from a state dict with TransformerLens's names. Every expected parameter must be present with
     * its shape; arrays are converted to the config's dtype.
     */
    public static HookedTransformer fromStateDict(ModelConfig cfg, Map<String, NDArray> stateDict) {
        HookedTransformer model = new HookedTransformer(cfg);
        model.weights.load(stateDict);
        return model;
    }

    /**
     * A pretrained model, processed as TransformerLens does by default (layer norms folded, writing weights and
     * unembedding centred, value biases folded): a short name ({@code "gpt2"}; see {@code ModelRegistry.table()}),
     * a Hugging Face repository id, or a local folder in Hugging Face's layout. Downloads go to the Hugging Face
     * cache ({@code HF_HOME}), where weights Python already fetched are found; {@code HF_HUB_OFFLINE=1} never
     * touches the network.
     */
    public static HookedTransformer fromPretrained(String name) { return fromPretrained(name, LoadOptions.defaults()); }

    public static HookedTransformer fromPretrained(String name, LoadOptions options) { return Pretrained.orFail(name, options); }

    /** The weights exactly as published: full layer norms, nothing folded or centred. */
    public static HookedTransformer fromPretrainedNoProcessing(String name) {
        return fromPretrained(name, LoadOptions.noProcessing());
    }

    /**
     * Loads a model saved by {@link #save}: config.json and model.safetensors in {@code dir}. A file that is malformed
     * or does not fit the other fails with a {@link dev.loupe.load.ModelFileException} naming it and what is wrong.
     */
    public static HookedTransformer load(Path dir) throws IOException { return SavedModel.load(dir); }

    /** Writes config.json and model.safetensors into {@code dir}; each file appears whole or not at all. */
    public void save(Path dir) throws IOException { save(dir, cfg.dtype()); }

    /**
     * As {@link #save(Path)}, with the weights stored as {@code storage}: FLOAT16 halves a committed model's size, and
     * loading widens the weights back to the config's type. The model itself is unchanged.
     */
    public void save(Path dir, DataType storage) throws IOException {
        SavedModel.save(cfg, weights.values(), dir, storage);
    }

    /** Every parameter's name and shape for this config, in state-dict order, as its components declare them. */
    public static Map<String, Shape> parameterShapes(ModelConfig c) { return new HookedTransformer(c).weights.shapes(); }

    // ---------------------------------------------------------------- the forward pass

    /** Logits [batch, pos, d_vocab_out] for tokens [batch, pos] (or [pos]). */
    public NDArray forward(NDArray tokens) { return run(tokens, null, null, null); }

    /**
     * Logits with an attention mask [batch, pos] (1 for real tokens, 0 for padding): padding keys are never
     * attended to and positions count from each row's first real token, so padding does not change the
     * logits of real tokens.
     */
    public NDArray forward(NDArray tokens, NDArray attentionMask) { return run(tokens, attentionMask, null, null); }

    /** An empty cache of keys and values for {@link #forward(NDArray, KvCache)}. */
    public KvCache newKvCache() { return new KvCache(cfg.nLayers()); }

    /**
     * Logits for tokens that continue the positions already in {@code cache}, which then holds these too. The
     * first call passes the prompt; each later one the next tokens. Hooks see only the new positions.
     */
    public NDArray forward(NDArray tokens, KvCache cache) { return run(tokens, null, cache, null); }

    private synchronized NDArray run(NDArray tokens, NDArray attentionMask, KvCache cache, long[] unembedAt) {
        weights.checkOpen();
        try (NDScope scope = new NDScope()) {
            NDArray input = Inputs.tokens(cfg, tokens, cache == null ? 0 : cache.length());
            Inputs.unembedAt(unembedAt, input.getShape());
            NDArray logits = architecture.forward(input, Inputs.mask(attentionMask, input.getShape()), cache, unembedAt);
            NDScope.unregister(logits);
            if (cache != null) {
                cache.commit(input.getShape().get(1));
            }
            return logits;
        }
    }

    /**
     * Blocks {@code startLayer..stopAtLayer-1} only, from a residual stream taken as {@code startLayer}'s
     * {@code hook_resid_pre}, with their hooks: the residual stream that enters block {@code stopAtLayer}
     * (TransformerLens's {@code start_at_layer} and {@code stop_at_layer}). Work that needs activations of early
     * layers only stops there.
     */
    public NDArray residualAt(int startLayer, int stopAtLayer, NDArray residual) {
        return residualAt(startLayer, stopAtLayer, residual, null, 0);
    }

    /**
     * As {@link #residualAt(int, int, NDArray)}, for the positions {@code from..} of a sequence only: {@code residual}
     * [rows, pos, d_model] holds positions from..from+pos-1, and attention also sees the keys and values of positions
     * 0..from-1 in {@code prefix}, a cache that {@link #forward(NDArray, KvCache)} filled on the sequence (row i
     * continues the cache's row i mod its batch, so rows may be copies of it). The cache is read, not changed. Where
     * nothing before {@code from} differs from that run (a patch at position from changes nothing before it), this is
     * what a run over every position gives at from.., for the cost of those positions alone. Hooks see those
     * positions only. No padding; {@code from} = 0 needs no cache.
     */
    public synchronized NDArray residualAt(int startLayer, int stopAtLayer, NDArray residual, KvCache prefix, int from) {
        weights.checkOpen();
        Inputs.layerRange(cfg, startLayer, stopAtLayer);
        Inputs.after(cfg, Inputs.residual(cfg, residual), prefix, from);
        try (NDScope scope = new NDScope()) {
            NDArray out = architecture.runBlocks(startLayer, stopAtLayer, residual, architecture.passOver(residual, from, prefix));
            NDScope.unregister(out);
            return out;
        }
    }

    /**
     * {@link #residualAt(int, int, NDArray, KvCache, int)} for several runs at once, run i from position {@code from[i]}
     * on: the runs are packed along the position axis, so their tokens share each matrix product (many short runs cost
     * little more than one long one), and attention takes them apart again. Results as the runs alone give them, to
     * rounding. Hooks would see the packed tokens, so none may act on this thread's runs.
     */
    public synchronized List<NDArray> residualAt(int startLayer, int stopAtLayer, List<NDArray> residuals, KvCache prefix,
                                                 int[] from) {
        weights.checkOpen();
        Inputs.layerRange(cfg, startLayer, stopAtLayer);
        if (residuals.isEmpty() || residuals.size() != from.length) {
            throw new IllegalArgumentException("Packed runs need a residual stream and a start position for each run; got "
                    + residuals.size() + " residual streams and " + from.length + " starts");
        }
        for (int i = 0; i < from.length; i++) {
            Inputs.after(cfg, Inputs.residual(cfg, residuals.get(i)), prefix, from[i]);
        }
        activeHook().ifPresent(name -> {
            throw new IllegalStateException("Packed runs pack several runs' tokens into one sequence, which a hook would"
                    + " take for one run; " + name + " has a hook, cache or recording on this thread. Run the runs one by one.");
        });
        try (NDScope scope = new NDScope()) {
            NDList packed = new NDList();
            for (NDArray r : residuals) {
                packed.add(r.reshape(1, r.getShape().get(0) * r.getShape().get(1), cfg.dModel()));
            }
            NDArray out = architecture.runBlocks(startLayer, stopAtLayer, NDArrays.concat(packed, 1),
                    architecture.passOverPacked(residuals, from, prefix));
            List<NDArray> runs = new ArrayList<>();
            long at = 0;
            for (NDArray r : residuals) {
                long tokens = r.getShape().get(0) * r.getShape().get(1);
                NDArray run = out.get(":, " + at + ":" + (at + tokens)).reshape(r.getShape().get(0), r.getShape().get(1), cfg.dModel());
                NDScope.unregister(run);
                runs.add(run);
                at += tokens;
            }
            return runs;
        }
    }

    /**
     * The residual stream entering block {@code stopAtLayer} for tokens [batch, pos] (or [pos]): embeddings and blocks
     * {@code 0..stopAtLayer-1} with their hooks, TransformerLens's {@code forward(tokens, stop_at_layer=stopAtLayer)}.
     * Reading an early layer's activations over a corpus need not pay for the later layers and the unembedding.
     */
    public synchronized NDArray residualAt(NDArray tokens, int stopAtLayer) {
        weights.checkOpen();
        Inputs.stopAtLayer(cfg, stopAtLayer);
        try (NDScope scope = new NDScope()) {
            NDArray out = architecture.residualAt(Inputs.tokens(cfg, tokens, 0), stopAtLayer);
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
        weights.checkOpen();
        Inputs.startLayer(cfg, startLayer);
        Inputs.unembedAt(unembedAt, Inputs.residual(cfg, residual));
        try (NDScope scope = new NDScope()) {
            NDArray logits = architecture.blocksAndUnembed(startLayer, residual, architecture.passOver(residual), unembedAt);
            NDScope.unregister(logits);
            return logits;
        }
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
            NDArray perToken = crossEntropyPerToken(forward(tokens), Inputs.tokens(cfg, tokens, 0));
            NDScope.unregister(perToken);
            return perToken;
        }
    }

    /** −log p(token[i+1] | tokens[..i]) from logits [batch, pos, vocab]: [batch, pos - 1]. */
    public static NDArray crossEntropyPerToken(NDArray logits, NDArray tokens) {
        return Losses.crossEntropyPerToken(logits, tokens);
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
        return Recording.cache(this, hooks.matching(namesFilter), () -> run(tokens, attentionMask, null, null));
    }

    /**
     * As {@link #runWithCache(NDArray, Predicate)}, but only the embeddings and blocks {@code 0..stopAtLayer-1} run, as
     * TransformerLens's {@code run_with_cache(tokens, names_filter=..., stop_at_layer=stopAtLayer)}, and then
     * {@code blocks.{stopAtLayer}.hook_resid_pre}, whose value they have made. The cache holds the filtered activations
     * of that part of the pass, as a whole pass makes them, and no logits: its {@code logits()} fails, naming
     * stopAtLayer. Hook points further on are not cached; a filter that accepts none of those the run reaches fails.
     * {@link ActNames#stopAtLayerFor} gives the least stopAtLayer that reaches a hook point.
     */
    public synchronized ActivationCache runWithCache(NDArray tokens, Predicate<String> namesFilter, int stopAtLayer) {
        weights.checkOpen();
        Inputs.stopAtLayer(cfg, stopAtLayer);
        List<HookPoint> matched = hooks.matching(namesFilter);
        List<HookPoint> reached = matched.stream().filter(p -> reaches(stopAtLayer, p.name())).toList();
        if (reached.isEmpty()) {
            String first = matched.get(0).name();
            throw new IllegalArgumentException("A run stopped at layer " + stopAtLayer + " reaches none of the " + matched.size()
                    + " hook points the names filter accepts (" + first + " needs " + runReaching(first) + ").");
        }
        return Recording.cache(this, reached, () -> {
            try (NDScope scope = new NDScope()) {
                architecture.enter(stopAtLayer, architecture.residualAt(Inputs.tokens(cfg, tokens, 0), stopAtLayer));
            }
            return null;
        }, false, stopAtLayer);
    }

    /** Whether a run stopped at {@code stopAtLayer} reaches this hook point. */
    static boolean reaches(int stopAtLayer, String hookName) {
        OptionalInt needed = ActNames.stopAtLayerFor(hookName);
        return needed.isPresent() && needed.getAsInt() <= stopAtLayer;
    }

    /** "stopAtLayer >= l" or "a whole forward pass": the least run that reaches this hook point, for messages. */
    static String runReaching(String hookName) {
        OptionalInt needed = ActNames.stopAtLayerFor(hookName);
        return needed.isPresent() ? "stopAtLayer >= " + needed.getAsInt() : "a whole forward pass";
    }

    /**
     * The filtered activations from the shortest run that makes them all: {@link #runWithCache(NDArray, Predicate, int)}
     * stopped at the least layer that reaches every hook point the filter accepts, or, when one comes after the blocks
     * ({@code ln_final.*}), a whole forward pass with its logits. Work that reads some layers' activations (harvesting
     * them over a corpus for an SAE, a clean run whose logits nobody reads) then pays for those layers only.
     */
    public synchronized ActivationCache runWithCacheUpTo(NDArray tokens, Predicate<String> namesFilter) {
        int stop = 0;
        for (HookPoint p : hooks.matching(namesFilter)) {
            OptionalInt needed = ActNames.stopAtLayerFor(p.name());
            if (needed.isEmpty()) {
                return runWithCache(tokens, namesFilter);
            }
            stop = Math.max(stop, needed.getAsInt());
        }
        return runWithCache(tokens, namesFilter, stop);
    }

    /**
     * As {@link #runWithCache(NDArray, Predicate)}, but each activation as it reached its hook point, before the hooks
     * (and SAEs) attached there acted. {@link #forwardFromLayer} runs {@code blocks.{l}.hook_resid_pre}'s hooks on the
     * residual it is given, so a run restarted there must start from this value, or those hooks act twice.
     */
    public ActivationCache runWithInputCache(NDArray tokens, Predicate<String> namesFilter) {
        return runWithInputCache(tokens, namesFilter, null);
    }

    /**
     * As {@link #runWithInputCache(NDArray, Predicate)}, on tokens that continue the positions in {@code cache} (or
     * none, when null), which then holds these too, as {@link #forward(NDArray, KvCache)}: one run gives both.
     */
    public ActivationCache runWithInputCache(NDArray tokens, Predicate<String> namesFilter, KvCache cache) {
        return runWithInputCache(tokens, namesFilter, cache, null);
    }

    /**
     * As {@link #runWithInputCache(NDArray, Predicate, KvCache)}, unembedding only position {@code unembedAt[i]} of row
     * i (null: every position), as {@link #runWithGradCache(NDArray, Predicate, Function, long[])} does.
     */
    public synchronized ActivationCache runWithInputCache(NDArray tokens, Predicate<String> namesFilter, KvCache cache,
                                                          long[] unembedAt) {
        return Recording.cache(this, hooks.matching(namesFilter), () -> run(tokens, null, cache, unembedAt), true);
    }

    /**
     * Runs the model keeping the filtered activations and the gradient of {@code metric(logits)} (a scalar)
     * with respect to each of them, TransformerLens's {@code run_with_cache(incl_bwd=True)}. The model's
     * weights get no gradients.
     */
    public ActivationCache runWithGradCache(NDArray tokens, Predicate<String> namesFilter, Function<NDArray, NDArray> metric) {
        return runWithGradCache(tokens, namesFilter, metric, null);
    }

    /**
     * As {@link #runWithGradCache(NDArray, Predicate, Function)}, but only position {@code unembedAt[i]} of row i is
     * unembedded (null: every position): the metric gets, and the cache holds, logits [batch, 1, d_vocab_out], and the
     * final layer norm's hooks see those positions alone. A metric that reads one position per prompt needs no more,
     * and unembedding every position costs about a third of a GPT-2-small forward pass, and as much again backward.
     */
    public synchronized ActivationCache runWithGradCache(NDArray tokens, Predicate<String> namesFilter,
                                                         Function<NDArray, NDArray> metric, long[] unembedAt) {
        return Recording.gradCache(this, hooks.matching(namesFilter), () -> run(tokens, null, null, unembedAt), metric);
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
    public HookSession hooks(Hook... fwdHooks) { return hooks.session(fwdHooks); }

    /**
     * Attaches a hook that stays until {@link #resetHooks()}, TransformerLens's {@code add_hook}. Unlike
     * {@link #hooks} it acts on every run, from any thread.
     */
    public void addHook(String name, dev.loupe.hook.HookFn fn) { hooks.get(name).add(fn); }

    /**
     * Splices SAEs or transcoders into this thread's runs until the session is closed:
     * {@code try (var s = model.saes(sae)) { ... }}, as {@link #hooks}. Each one's activation at its hook point is
     * replaced by its output, and its hook points ({@code <hook>.hook_sae_input}, {@code .hook_sae_acts_pre},
     * {@code .hook_sae_acts_post}, {@code .hook_sae_recons}, {@code .hook_sae_error}, {@code .hook_sae_output}) join
     * the model's, right after that hook point, so caches, hooks and patching reach them. Hooks on the hook point
     * itself run in the order attached: those attached after the splice see its output.
     */
    public HookSession saes(Splice... saes) { return hooks.splice(saes); }

    /** Removes every hook from every hook point. */
    public void resetHooks() { hooks.all().forEach(HookPoint::clearHooks); }

    /** Every hook point name, in the order the forward pass reaches them. */
    public List<String> hookNames() { return hooks.names(); }

    /** The hook point with this full name; an unknown name fails with the closest ones. */
    public HookPoint hookPoint(String name) { return hooks.get(name); }

    /**
     * The first hook point, in forward order, that a hook, cache or recording is active on for this thread: a pass
     * now would call it. Empty when a pass would run unhooked.
     */
    public Optional<String> activeHook() { return hooks.firstActive(); }

    // ---------------------------------------------------------------- generation

    /**
     * Extends each row of tokens [batch, pos] by up to {@code maxNewTokens} tokens, one position per step thanks to
     * a {@link KvCache}, with whatever hooks are attached (so a steering hook steers; it sees the new position). With stopAtEos, a row that has produced
     * {@code eosTokenId} continues with it as padding, and generation ends when every row has. Inputs longer
     * than n_ctx keep their last n_ctx tokens as context.
     */
    public NDArray generate(NDArray tokens, GenerateOptions options, Integer eosTokenId) {
        return Generation.generate(this, tokens, options, eosTokenId);
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
    public Optional<Checkpoint> checkpoint() { return Optional.ofNullable(checkpoint); }

    // ---------------------------------------------------------------- tokens

    /** Gives the model a tokenizer (its vocabulary must fit d_vocab); returns the model. */
    public HookedTransformer withTokenizer(Tokenizer tokenizer) {
        text.set(tokenizer);
        return this;
    }

    public Optional<Tokenizer> tokenizer() { return text.tokenizer(); }

    /** Exactly these token ids, shape [1, n], no BOS added. */
    public NDArray toTokens(int[] ids) { return text.toTokens(ids); }

    /** The text's tokens [1, pos], BOS first where the model's tokenizer has one (Qwen's has none). */
    public NDArray toTokens(String text) { return toTokens(text, this.text.prependsBos()); }

    public NDArray toTokens(String text, boolean prependBos) { return this.text.toTokens(text, prependBos); }

    /** Several texts padded into one batch, BOS first, padding on the right. */
    public TokenBatch toTokens(List<String> texts) { return toTokens(texts, this.text.prependsBos(), TokenBatch.PaddingSide.RIGHT); }

    public TokenBatch toTokens(List<String> texts, boolean prependBos, TokenBatch.PaddingSide side) {
        return text.toTokens(texts, prependBos, side);
    }

    /** The text's tokens as strings, BOS first: {@code ["<|endoftext|>", "When", " John", ...]}. */
    public List<String> toStrTokens(String text) { return toStrTokens(text, this.text.prependsBos()); }

    public List<String> toStrTokens(String text, boolean prependBos) { return this.text.toStrTokens(text, prependBos); }

    /** Each token of a sequence [pos] or [1, pos] as a string. */
    public List<String> toStrTokens(NDArray tokens) { return text.toStrTokens(tokens); }

    /** The id of a text that is exactly one token, e.g. {@code " Mary"}; anything else fails showing its tokens. */
    public int toSingleToken(String text) { return this.text.toSingleToken(text); }

    /** The text of a sequence of tokens [pos] or [1, pos], TransformerLens's {@code to_string}. */
    public String toString(NDArray tokens) { return text.toString(tokens); }

    /** The prompt followed by generated text (BOS prepended for the model, not shown), with the model's end-of-text. */
    public String generate(String prompt, GenerateOptions options) {
        return Generation.generate(this, text.require(), prompt, options);
    }

    // ---------------------------------------------------------------- weights by TransformerLens's names

    public ModelConfig config() { return cfg; }

    /** Parameters by name, in state-dict order (read-only view; the arrays are the model's own). */
    public Map<String, NDArray> stateDict() { return Collections.unmodifiableMap(weights.values()); }

    public NDArray parameter(String name) { return weights.get(name); }

    /** Replaces a parameter (same shape); the next forward pass uses it. */
    public void setParameter(String name, NDArray value) { weights.set(name, value); }

    public long parameterCount() { return weights.count(); }

    /** [d_vocab, d_model] */
    public NDArray W_E() { return parameter("embed.W_E"); }
    /** [n_ctx, d_model] */
    public NDArray W_pos() { return parameter("pos_embed.W_pos"); }
    /** [d_model, d_vocab_out] */
    public NDArray W_U() { return parameter("unembed.W_U"); }
    public NDArray b_U() { return parameter("unembed.b_U"); }
    /** [head, d_model, d_head] */
    public NDArray W_Q(int layer) { return weights.attn(layer, "W_Q"); }
    /** [head, d_model, d_head]: with grouped-query attention, each key/value head repeated for its query heads. */
    public NDArray W_K(int layer) { return weights.attnPerQueryHead(layer, "W_K"); }
    public NDArray W_V(int layer) { return weights.attnPerQueryHead(layer, "W_V"); }
    /** [head, d_head, d_model] */
    public NDArray W_O(int layer) { return weights.attn(layer, "W_O"); }
    /** [head, d_head] (keys and values repeated per query head as W_K) */
    public NDArray b_Q(int layer) { return weights.attn(layer, "b_Q"); }
    public NDArray b_K(int layer) { return weights.attnPerQueryHead(layer, "b_K"); }
    public NDArray b_V(int layer) { return weights.attnPerQueryHead(layer, "b_V"); }
    /** [d_model] */
    public NDArray b_O(int layer) { return weights.attn(layer, "b_O"); }
    /** [d_model, d_mlp] */
    public NDArray W_in(int layer) { return weights.mlp(layer, "W_in"); }
    public NDArray b_in(int layer) { return weights.mlp(layer, "b_in"); }
    /** [d_mlp, d_model] */
    public NDArray W_out(int layer) { return weights.mlp(layer, "W_out"); }
    public NDArray b_out(int layer) { return weights.mlp(layer, "b_out"); }
    /** [d_model, d_mlp], gated MLPs only */
    public NDArray W_gate(int layer) { return weights.mlp(layer, "W_gate"); }

    /** Frees the parameters now (otherwise they go when the model is unreferenced). */
    @Override
    public void close() { weights.close(); }

    /** In a notebook: the config as a table, with parameter count and tokenizer; the text is {@link #toString()}. */
    @Override
    public MimeBundle mimeBundle() { return ModelView.bundle(this); }

    @Override
    public String toString() {
        return String.format("HookedTransformer(%s)%n%,d parameters, %d hook points", cfg, parameterCount(), hookNames().size());
    }
}
