package dev.loupe.sae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.hook.HookPoint;
import dev.loupe.hook.Splice;
import dev.loupe.load.LoadOptions;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A sparse autoencoder or transcoder, SAELens's {@code SAE}: features {@code f = act(norm(x) − b_dec·[apply_b_dec]) W_enc
 * + b_enc)} and reconstruction {@code f W_dec + b_dec}, with norm undone on the way out. Its hook points carry SAELens's
 * names under the hook it reads; spliced into a model ({@code model.saes(sae)}) they are the model's too:
 *
 * <pre>
 *   x           hook_sae_input     [..., d_in]   the activation read (hook_z flattened to heads × d_head)
 *   pre         hook_sae_acts_pre  [..., d_sae]  x W_enc + b_enc
 *   f           hook_sae_acts_post [..., d_sae]  the feature activations
 *   f W_dec + b hook_sae_recons    [..., d_out]  before the input's normalisation is undone
 *   error       hook_sae_error     [..., d_out]  activation − clean reconstruction, with the error term on
 *   out         hook_sae_output    [..., d_out]  what replaces the model's activation
 * </pre>
 *
 * With the error term on ({@link #useErrorTerm}), the output is the reconstruction plus the error of a reconstruction
 * computed without hooks: the model runs exactly as without the SAE, yet a change to the features changes its output.
 * As in SAELens, no gradient flows through the error.
 */
public final class Sae implements Splice, Displayable, AutoCloseable {

    private static final float LAYER_NORM_EPS = 1e-5f;

    private final SaeConfig cfg;
    private final NDManager manager;
    private final Map<String, NDArray> weights;
    private volatile boolean useErrorTerm;
    private NDArray logSparsity;

    private final HookPoint hookInput;
    private final HookPoint hookActsPre;
    private final HookPoint hookActsPost;
    private final HookPoint hookRecons;
    private final HookPoint hookError;
    private final HookPoint hookOutput;

    private Sae(SaeConfig cfg, NDManager manager, Map<String, NDArray> weights) {
        this.cfg = cfg;
        this.manager = manager;
        this.weights = weights;
        String at = cfg.hookName() + ".";
        this.hookInput = new HookPoint(at + "hook_sae_input");
        this.hookActsPre = new HookPoint(at + "hook_sae_acts_pre");
        this.hookActsPost = new HookPoint(at + "hook_sae_acts_post");
        this.hookRecons = new HookPoint(at + "hook_sae_recons");
        this.hookError = new HookPoint(at + "hook_sae_error");
        this.hookOutput = new HookPoint(at + "hook_sae_output");
    }

    /**
     * An SAE from its weights under SAELens's names: {@code W_enc [d_in, d_sae]}, {@code b_enc [d_sae]},
     * {@code W_dec [d_sae, d_out]}, {@code b_dec [d_out]}, and {@code threshold [d_sae]} for JumpReLU, {@code W_skip
     * [d_out, d_in]} for a skip transcoder. Each must be there with its shape, all of one floating type; nothing else
     * may be. The SAE keeps copies.
     */
    public static Sae fromWeights(SaeConfig cfg, Map<String, NDArray> given) {
        Map<String, Shape> expected = parameterShapes(cfg);
        for (String name : given.keySet()) {
            if (!expected.containsKey(name)) {
                throw new SaeFormatException("weights", name, "one of " + expected.keySet(), "an unexpected tensor");
            }
        }
        DataType type = null;
        for (Map.Entry<String, Shape> e : expected.entrySet()) {
            NDArray a = given.get(e.getKey());
            if (a == null) {
                throw new SaeFormatException("weights", e.getKey(), "a tensor " + e.getValue(), "none");
            }
            if (!a.getShape().equals(e.getValue())) {
                throw new SaeFormatException("weights", e.getKey(), "shape " + e.getValue() + " for " + cfg,
                        "shape " + a.getShape());
            }
            DataType t = a.getDataType();
            if (t != DataType.FLOAT32 && t != DataType.FLOAT64) {
                throw new SaeFormatException("weights", e.getKey(), "float32 or float64", t.toString());
            }
            if (type != null && t != type) {
                throw new SaeFormatException("weights", e.getKey(), type.toString() + " like the other tensors", t.toString());
            }
            type = t;
        }
        NDManager manager = NDManager.newBaseManager();
        Map<String, NDArray> copies = new LinkedHashMap<>();
        for (String name : expected.keySet()) {
            NDArray copy = given.get(name).duplicate();
            copy.attach(manager);
            copy.setName(name);
            copies.put(name, copy);
        }
        return new Sae(cfg, manager, copies);
    }

    /** A SAELens folder (cfg.json, sae_weights.safetensors, optional sparsity.safetensors), as float32. */
    public static Sae load(Path dir) throws IOException { return SaeFolder.read(dir, DataType.FLOAT32); }

    /** A SAELens folder, as float32 or float64 whatever the file's types (F32, F16, BF16, F64). */
    public static Sae load(Path dir, DataType type) throws IOException { return SaeFolder.read(dir, type); }

    /** Writes a SAELens folder in its current layout; it appears whole or not at all. */
    public void save(Path dir) throws IOException { SaeFolder.write(this, dir); }

    /** An SAE of a release as SAELens names them ({@link SaeReleases}), downloaded once into the Hugging Face cache. */
    public static Sae fromPretrained(String release, String saeId) {
        return SaeReleases.fromPretrained(release, saeId, LoadOptions.defaults());
    }

    /** As {@link #fromPretrained(String, String)}, at the options' revision and dtype (float32 or float64). */
    public static Sae fromPretrained(String release, String saeId, LoadOptions options) {
        return SaeReleases.fromPretrained(release, saeId, options);
    }

    /** SAELens's log10 firing density of each feature [d_sae], when the SAE came with sparsity.safetensors. */
    public Optional<NDArray> logSparsity() { return Optional.ofNullable(logSparsity); }

    Sae withLogSparsity(NDArray values) {
        if (!values.getShape().equals(new Shape(cfg.dSae()))) {
            throw new IllegalArgumentException("log sparsity must have shape (" + cfg.dSae() + "); got " + values.getShape());
        }
        logSparsity = values.duplicate();
        logSparsity.attach(manager);
        return this;
    }

    /** The tensors a config needs, SAELens's names and shapes, in the order SAELens saves them. */
    public static Map<String, Shape> parameterShapes(SaeConfig cfg) {
        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put("W_enc", new Shape(cfg.dIn(), cfg.dSae()));
        shapes.put("b_enc", new Shape(cfg.dSae()));
        shapes.put("W_dec", new Shape(cfg.dSae(), cfg.dOut()));
        shapes.put("b_dec", new Shape(cfg.dOut()));
        if (cfg.architecture() == SaeConfig.Architecture.JUMPRELU) {
            shapes.put("threshold", new Shape(cfg.dSae()));
        }
        if (cfg.kind() == SaeConfig.Kind.SKIP_TRANSCODER) {
            shapes.put("W_skip", new Shape(cfg.dOut(), cfg.dIn()));
        }
        return shapes;
    }

    // ---------------------------------------------------------------- what it is

    public SaeConfig config() { return cfg; }

    /** The hook point it reads. */
    public String hookName() { return cfg.hookName(); }

    /** The hook point it replaces: {@link #hookName()} for an SAE. */
    public String hookNameOut() { return cfg.hookNameOut(); }

    public int dIn() { return cfg.dIn(); }

    public int dSae() { return cfg.dSae(); }

    public int dOut() { return cfg.dOut(); }

    /** [d_in, d_sae] */
    public NDArray W_enc() { return weights.get("W_enc"); }

    /** [d_sae, d_out]: row i is feature i's direction. */
    public NDArray W_dec() { return weights.get("W_dec"); }

    /** [d_sae] */
    public NDArray b_enc() { return weights.get("b_enc"); }

    /** [d_out] */
    public NDArray b_dec() { return weights.get("b_dec"); }

    /** [d_sae], JumpReLU only. */
    public NDArray threshold() { return require("threshold"); }

    /** [d_out, d_in], skip transcoders only. */
    public NDArray W_skip() { return require("W_skip"); }

    /** Every tensor by SAELens's name (the SAE's own arrays: do not close them). */
    public Map<String, NDArray> stateDict() { return java.util.Collections.unmodifiableMap(weights); }

    public DataType dataType() { return W_enc().getDataType(); }

    private NDArray require(String name) {
        NDArray a = weights.get(name);
        if (a == null) {
            throw new IllegalStateException("A " + cfg.saeLensArchitecture() + " has no " + name);
        }
        return a;
    }

    /** Whether the spliced output adds the reconstruction error back; see the class comment. */
    public Sae useErrorTerm(boolean on) {
        this.useErrorTerm = on;
        return this;
    }

    public boolean usesErrorTerm() { return useErrorTerm; }

    /** Its hook point names, in the order a run reaches them. */
    public List<String> hookNames() {
        return List.of(hookInput, hookActsPre, hookActsPost, hookRecons, hookError, hookOutput).stream()
                .map(HookPoint::name).toList();
    }

    // ---------------------------------------------------------------- the arithmetic

    /** What encoding leaves for decoding: the normalisation to undo (null for none). */
    private record Normalised(NDArray x, NDArray scale, NDArray shift) {}

    /** Feature activations [..., d_sae] of activations [..., d_in], through the SAE's hook points. */
    public NDArray encode(NDArray x) {
        return encode(normalise(checkInput(x)), true);
    }

    /**
     * Reconstructions [..., d_out] of feature activations [..., d_sae], through the hook points. An SAE that
     * normalises its input needs the input to undo that: use {@link #forward}.
     */
    public NDArray decode(NDArray features) {
        if (cfg.normalization() != SaeConfig.Normalization.NONE) {
            throw new IllegalStateException("This SAE normalises its input (" + cfg.normalization().saeLensName()
                    + "), so decoding needs that input's norm: use forward(x) instead of decode(f)");
        }
        return decode(features, null, true);
    }

    /**
     * Output [..., d_out] for input [..., d_in]: the reconstruction, plus the skip path for a skip transcoder. With the
     * error term on this is an SAE's input again (a transcoder has no target here: see the splice).
     */
    public NDArray forward(NDArray x) {
        NDArray in = checkInput(x);
        Normalised n = normalise(in);
        NDArray out = decode(encode(n, true), n, true);
        if (cfg.kind() == SaeConfig.Kind.SKIP_TRANSCODER) {
            out = out.add(in.matMul(W_skip().transpose()));
        }
        if (useErrorTerm && cfg.kind() == SaeConfig.Kind.SAE) {
            out = out.add(hookError.apply(errorOf(in, in)));
        }
        return hookOutput.apply(out);
    }

    private NDArray encode(Normalised n, boolean hooks) {
        NDArray in = n.x();
        if (cfg.applyBDecToInput()) {
            in = in.sub(b_dec());
        }
        NDArray pre = at(hookActsPre, in.matMul(W_enc()).add(b_enc()), hooks);
        if (cfg.rescaleByDecoderNorm()) {
            pre = pre.mul(W_dec().norm(new int[] {1}));
        }
        return at(hookActsPost, activate(pre), hooks);
    }

    private NDArray activate(NDArray pre) {
        return switch (cfg.architecture()) {
            case STANDARD -> pre.maximum(0f);
            case JUMPRELU -> pre.maximum(0f).mul(pre.gt(threshold()).toType(pre.getDataType(), false));
            case TOPK, BATCHTOPK -> topK(pre, cfg.k());
        };
    }

    /** The k largest pre-activations of each row, through a ReLU, in place; zero elsewhere. */
    static NDArray topK(NDArray pre, int k) {
        NDList top = pre.topK(k, -1, true, false);
        try (NDArray values = top.get(0); NDArray indices = top.get(1)) {
            return pre.zerosLike().scatter(indices, values.maximum(0f), -1);
        }
    }

    private NDArray decode(NDArray features, Normalised n, boolean hooks) {
        if (cfg.rescaleByDecoderNorm()) {
            features = features.div(W_dec().norm(new int[] {1}));
        }
        NDArray recons = at(hookRecons, features.matMul(W_dec()).add(b_dec()), hooks);
        return n == null ? recons : denormalise(recons, n);
    }

    /** The target minus the reconstruction of {@code input} computed afresh without hooks, with no gradient. */
    private NDArray errorOf(NDArray input, NDArray target) {
        Normalised n = normalise(input);
        NDArray clean = decode(encode(n, false), n, false);
        if (cfg.kind() == SaeConfig.Kind.SKIP_TRANSCODER) {
            clean = clean.add(input.matMul(W_skip().transpose()));
        }
        return target.sub(clean).stopGradient();
    }

    private Normalised normalise(NDArray x) {
        return switch (cfg.normalization()) {
            case NONE -> new Normalised(x, null, null);
            case CONSTANT_NORM_RESCALE -> {
                NDArray coeff = x.norm(new int[] {-1}, true).pow(-1).mul((float) Math.sqrt(cfg.dIn()));
                yield new Normalised(x.mul(coeff), coeff.pow(-1), null);
            }
            case LAYER_NORM -> {
                NDArray mu = x.mean(new int[] {-1}, true);
                NDArray centred = x.sub(mu);
                NDArray std = centred.square().sum(new int[] {-1}, true).div(cfg.dIn() - 1).sqrt();
                yield new Normalised(centred.div(std.add(LAYER_NORM_EPS)), std, mu);
            }
        };
    }

    private static NDArray denormalise(NDArray y, Normalised n) {
        if (n.scale() == null) {
            return y;
        }
        NDArray out = y.mul(n.scale());
        return n.shift() == null ? out : out.add(n.shift());
    }

    private static NDArray at(HookPoint point, NDArray value, boolean hooks) {
        return hooks ? point.apply(value) : value;
    }

    private NDArray checkInput(NDArray x) {
        long last = x.getShape().get(x.getShape().dimension() - 1);
        if (last != cfg.dIn()) {
            throw new IllegalArgumentException("The SAE on " + cfg.hookName() + " reads d_in " + cfg.dIn()
                    + " wide activations; got shape " + x.getShape());
        }
        return x.getDataType() == dataType() ? x : x.toType(dataType(), false);
    }

    // ---------------------------------------------------------------- spliced into a model

    @Override public String inputHook() { return cfg.hookName(); }

    @Override public String outputHook() { return cfg.hookNameOut(); }

    @Override
    public List<HookPoint> inputPoints() {
        return List.of(hookInput, hookActsPre, hookActsPost);
    }

    @Override
    public List<HookPoint> outputPoints() {
        return List.of(hookRecons, hookError, hookOutput);
    }

    @Override
    public Splice.Run start() {
        return new SplicedRun();
    }

    /**
     * One splice's state: the input side keeps the input and the features (after their hooks) for the output side.
     * A forward pass frees its temporaries when it ends; this run works in a scope of its own and keeps only what
     * it hands back.
     */
    private final class SplicedRun implements Splice.Run {
        private NDArray input;
        private NDArray features;
        private Normalised normalised;

        @Override
        public NDArray atInput(NDArray activation) {
            try (NDScope scope = new NDScope()) {
                input = keep(hookInput.apply(checkInput(flatten(activation))));
                normalised = normalise(input);
                keep(normalised.x());
                if (normalised.scale() != null) {
                    keep(normalised.scale());
                }
                if (normalised.shift() != null) {
                    keep(normalised.shift());
                }
                features = keep(encode(normalised, true));
            }
            return activation;
        }

        @Override
        public NDArray atOutput(NDArray activation) {
            if (features == null) {
                throw new IllegalStateException("The SAE reading " + cfg.hookName() + " saw no input before "
                        + cfg.hookNameOut() + " in this run");
            }
            try (NDScope scope = new NDScope()) {
                NDArray target = checkOutput(flatten(activation));
                NDArray out = decode(features, normalised, true);
                if (cfg.kind() == SaeConfig.Kind.SKIP_TRANSCODER) {
                    out = out.add(input.matMul(W_skip().transpose()));
                }
                if (useErrorTerm) {
                    out = out.add(hookError.apply(errorOf(input, target)));
                }
                out = hookOutput.apply(out);
                NDArray replaced = keep(out.reshape(activation.getShape()).toType(activation.getDataType(), false));
                features = null;
                input = null;
                normalised = null;
                return replaced;
            }
        }

        private NDArray checkOutput(NDArray y) {
            long last = y.getShape().get(y.getShape().dimension() - 1);
            if (last != cfg.dOut()) {
                throw new IllegalArgumentException("The SAE on " + cfg.hookName() + " writes d_out " + cfg.dOut()
                        + " wide activations at " + cfg.hookNameOut() + "; the model's there have shape " + y.getShape());
            }
            return y.getDataType() == dataType() ? y : y.toType(dataType(), false);
        }

        /** hook_z [batch, pos, head, d_head] is read as [batch, pos, head × d_head], as SAELens's hook_z SAEs do. */
        private NDArray flatten(NDArray activation) {
            Shape s = activation.getShape();
            if (s.dimension() == 4 && s.get(3) != cfg.dIn() && s.get(2) * s.get(3) == cfg.dIn()) {
                return activation.reshape(s.get(0), s.get(1), s.get(2) * s.get(3));
            }
            return activation;
        }
    }

    private static NDArray keep(NDArray a) {
        NDScope.unregister(a);
        return a;
    }

    // ---------------------------------------------------------------- display, lifetime

    @Override
    public MimeBundle mimeBundle() {
        return MimeBundle.text(toString());
    }

    @Override
    public String toString() {
        return "Sae(" + cfg.saeLensArchitecture() + (cfg.k() > 0 ? " k=" + cfg.k() : "") + ", " + cfg.hookName()
                + (cfg.kind() == SaeConfig.Kind.SAE ? "" : " -> " + cfg.hookNameOut()) + ", d_in " + cfg.dIn()
                + ", d_sae " + cfg.dSae() + ", " + dataType() + (useErrorTerm ? ", error term on" : "") + ")";
    }

    /** A copy in another floating type (float64 for exact comparisons). */
    public Sae toType(DataType type) {
        Map<String, NDArray> converted = new LinkedHashMap<>();
        weights.forEach((name, a) -> converted.put(name, a.toType(type, true)));
        Sae copy = fromWeights(cfg, converted);
        converted.values().forEach(NDArray::close);
        return copy.useErrorTerm(useErrorTerm);
    }

    @Override
    public void close() {
        manager.close();
    }
}
