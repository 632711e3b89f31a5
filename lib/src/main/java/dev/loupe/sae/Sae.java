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
    /** Where its config came from, for errors that name the file: a cfg.json path, or "config" if built in code. */
    private volatile String origin = "config";
    private NDArray logSparsity;

    private final HookPoint hookInput;
    private final HookPoint hookActsPre;
    private final HookPoint hookActsPost;
    private final HookPoint hookRecons;
    private final HookPoint hookError;
    private final HookPoint hookOutput;
    /** The six above, in the order a run reaches them: three made reading the input, three writing the output. */
    private final List<HookPoint> points;

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
        this.points = List.of(hookInput, hookActsPre, hookActsPost, hookRecons, hookError, hookOutput);
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

    /** Names the file its config came from, for errors (a loader calls this). */
    Sae from(String configFile) {
        this.origin = configFile;
        return this;
    }

    /** Whether the spliced output adds the reconstruction error back; see the class comment. */
    public Sae useErrorTerm(boolean on) {
        this.useErrorTerm = on;
        return this;
    }

    public boolean usesErrorTerm() { return useErrorTerm; }

    /** Its hook point names, in the order a run reaches them. */
    public List<String> hookNames() {
        return points.stream().map(HookPoint::name).toList();
    }

    // ---------------------------------------------------------------- the arithmetic

    /** What encoding leaves for decoding: the normalisation to undo (null for none). */
    private record Normalised(NDArray x, NDArray scale, NDArray shift) {}

    /** Feature activations [..., d_sae] of activations [..., d_in], through the SAE's hook points. */
    public NDArray encode(NDArray x) {
        return encode(normalise(hookInput.apply(checkInput(x))), true);
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
        NDArray in = hookInput.apply(checkInput(x));
        Normalised n = normalise(in);
        NDArray out = reconstruct(in, n, encode(n, true), true);
        if (useErrorTerm && cfg.kind() == SaeConfig.Kind.SAE) {
            out = out.add(hookError.apply(errorOf(in, in)));
        }
        return hookOutput.apply(out);
    }

    /**
     * The forward pass on activations [..., d_in] with every one of its hook points recorded, by SAELens's short names
     * ({@code hook_sae_input}, ..., {@code hook_sae_output}), as SAELens's {@code sae.run_with_cache(x)}.
     */
    public Map<String, NDArray> runWithCache(NDArray x) {
        Map<String, NDArray> recorded = new LinkedHashMap<>();
        try {
            points.forEach(p -> p.recordInto(recorded));
            forward(x);
        } finally {
            points.forEach(HookPoint::stopRecording);
        }
        Map<String, NDArray> byShortName = new LinkedHashMap<>();
        recorded.forEach((name, a) -> byShortName.put(shortName(name), a));
        return byShortName;
    }

    /**
     * The forward pass on activations [..., d_in] with hooks on its own hook points, named in full or by SAELens's
     * short names ({@code hook_sae_acts_post}), as SAELens's {@code sae.run_with_hooks(x, fwd_hooks=...)}.
     */
    public NDArray runWithHooks(NDArray x, dev.loupe.hook.Hook... hooks) {
        Thread me = Thread.currentThread();
        List<Map.Entry<HookPoint, dev.loupe.hook.HookFn>> attached = new java.util.ArrayList<>();
        try {
            for (dev.loupe.hook.Hook h : hooks) {
                List<HookPoint> at = points.stream().filter(p -> h.filter().test(p.name())
                        || h.filter().test(shortName(p.name()))).toList();
                if (at.isEmpty()) {
                    throw new IllegalArgumentException(h + " matches none of the SAE's hook points " + hookNames());
                }
                for (HookPoint p : at) {
                    dev.loupe.hook.HookFn fn = (a, point) -> h.fn().apply(a, point);
                    p.addFor(me, fn);
                    attached.add(Map.entry(p, fn));
                }
            }
            return forward(x);
        } finally {
            attached.forEach(e -> e.getKey().removeFor(me, e.getValue()));
        }
    }

    /** SAELens's name for one of its hook points: {@code hook_sae_acts_post} for {@code <hook>.hook_sae_acts_post}. */
    private String shortName(String fullName) {
        return fullName.substring(cfg.hookName().length() + 1);
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
        NDArray clean = reconstruct(input, n, encode(n, false), false);
        return target.sub(clean).stopGradient();
    }

    /** The output before any error term: the features decoded, plus a skip transcoder's linear path from the input. */
    private NDArray reconstruct(NDArray input, Normalised n, NDArray features, boolean hooks) {
        NDArray out = decode(features, n, hooks);
        return cfg.kind() == SaeConfig.Kind.SKIP_TRANSCODER ? out.add(input.matMul(W_skip().transpose())) : out;
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
            throw new SaeFormatException(origin, "d_in", cfg.dIn() + " to match the activations at " + cfg.hookName(),
                    "activations of shape " + x.getShape() + " there");
        }
        return x.getDataType() == dataType() ? x : x.toType(dataType(), false);
    }

    // ---------------------------------------------------------------- spliced into a model

    @Override public String inputHook() { return cfg.hookName(); }

    @Override public String outputHook() { return cfg.hookNameOut(); }

    @Override
    public List<HookPoint> inputPoints() {
        return points.subList(0, 3);
    }

    @Override
    public List<HookPoint> outputPoints() {
        return points.subList(3, 6);
    }

    @Override
    public Splice.Run start() {
        return new SplicedRun();
    }

    /**
     * One splice: the input side leaves the input and the features (after their hooks) for the output side, per
     * thread, since a notebook's hooks outlive the cell that attached them and then act on every thread's runs. A
     * forward pass frees its temporaries when it ends; each side works in a scope of its own and keeps only what
     * it hands on.
     */
    private final class SplicedRun implements Splice.Run {

        private record Read(NDArray input, Normalised normalised, NDArray features) {}

        private final ThreadLocal<Read> read = new ThreadLocal<>();

        @Override
        public NDArray atInput(NDArray activation) {
            try (NDScope scope = new NDScope()) {
                NDArray input = keep(hookInput.apply(checkInput(flatten(activation))));
                Normalised n = normalise(input);
                if (n.scale() != null) {
                    keep(n.scale());
                }
                if (n.shift() != null) {
                    keep(n.shift());
                }
                read.set(new Read(input, n, keep(encode(n, true))));
            }
            return activation;
        }

        @Override
        public NDArray atOutput(NDArray activation) {
            Read in = read.get();
            read.remove();
            if (in == null) {
                throw new IllegalStateException("The transcoder reading " + cfg.hookName() + " saw no input before "
                        + cfg.hookNameOut() + " in this run (a run started after its input hook?)");
            }
            try (NDScope scope = new NDScope()) {
                NDArray target = checkOutput(flatten(activation));
                NDArray out = reconstruct(in.input(), in.normalised(), in.features(), true);
                if (useErrorTerm) {
                    out = out.add(hookError.apply(errorOf(in.input(), target)));
                }
                out = hookOutput.apply(out);
                return keep(out.reshape(activation.getShape()).toType(activation.getDataType(), false));
            }
        }

        private NDArray checkOutput(NDArray y) {
            long last = y.getShape().get(y.getShape().dimension() - 1);
            if (last != cfg.dOut()) {
                throw new SaeFormatException(origin, "d_out", cfg.dOut() + " to match the activations at "
                        + cfg.hookNameOut(), "activations of shape " + y.getShape() + " there");
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

    /** A copy in another floating type (float64 for exact comparisons), with its sparsity and error-term setting. */
    public Sae toType(DataType type) {
        Map<String, NDArray> converted = new LinkedHashMap<>();
        weights.forEach((name, a) -> converted.put(name, a.toType(type, true)));
        Sae copy = fromWeights(cfg, converted).from(origin);
        converted.values().forEach(NDArray::close);
        if (logSparsity != null) {
            try (NDArray values = logSparsity.toType(type, true)) {
                copy.withLogSparsity(values);
            }
        }
        return copy.useErrorTerm(useErrorTerm);
    }

    @Override
    public void close() {
        manager.close();
    }
}
