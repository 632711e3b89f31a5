package dev.loupe.hook;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A named place in the forward pass where an activation is made, e.g. {@code blocks.1.attn.hook_pattern}.
 * Components pass each activation through {@link #apply}; with nothing attached that is the identity and
 * costs nothing. Attached hooks may read or replace it; a cache records it; a gradient probe makes its
 * gradient available after a backward pass.
 *
 * <p>Hooks added with {@link #add} act on every run, from any thread (TransformerLens's {@code add_hook}). Hooks added
 * for a thread ({@link #addFor}), and what a run records, act on that thread's runs only: a model shared by threads
 * (a notebook's background cells, a parallel sweep) gives each the result its own hooks ask for. Hooks whose thread
 * has ended without removing them act on every run, as before it ended they acted on all of its runs: a notebook
 * runs each cell on a thread of its own, and a {@code hooks(...)} session opened in one cell stays on in the next.
 */
public final class HookPoint {

    private final String name;
    private final int layer;
    private final List<HookFn> hooks = new CopyOnWriteArrayList<>();
    private final Map<Thread, PerThread> perThread = new ConcurrentHashMap<>();

    /** One thread's hooks and recording here; dropped as soon as it holds nothing, so no thread is kept. */
    private static final class PerThread {
        final List<HookFn> hooks = new CopyOnWriteArrayList<>(); // another thread may close the session that added one
        Map<String, NDArray> cacheSink;
        Map<String, NDArray> inputSink;
        Map<String, NDArray> gradProbes;

        boolean isEmpty() {
            return hooks.isEmpty() && cacheSink == null && inputSink == null && gradProbes == null;
        }
    }

    public HookPoint(String name) {
        this.name = name;
        this.layer = ActNames.layerOf(name);
    }

    /** The full name, as TransformerLens's {@code hook.name}. */
    public String name() {
        return name;
    }

    /** The block index this point is in, or -1 outside the blocks (embeddings, final layer norm). */
    public int layer() {
        return layer;
    }

    /** Whether anything will see the activation; components skip optional work (e.g. per-head results) if not. */
    public boolean isActive() {
        return !hooks.isEmpty() || !perThread.isEmpty() && (perThread.containsKey(Thread.currentThread()) || orphans() != null);
    }

    /** Runs the attached hooks on the activation, records it where asked, and returns what the model uses next. */
    public NDArray apply(NDArray activation) {
        if (!isActive()) {
            return activation;
        }
        PerThread mine = perThread.get(Thread.currentThread());
        if (mine != null && mine.inputSink != null) {
            mine.inputSink.put(name, keep(activation));
        }
        List<HookFn> orphaned = orphans();
        NDArray current = runHooks(hooks, keep(activation));
        if (orphaned != null) {
            current = runHooks(orphaned, current);
        }
        if (mine == null) {
            return current;
        }
        current = runHooks(mine.hooks, current);
        if (mine.cacheSink != null) {
            mine.cacheSink.put(name, current);
        }
        if (mine.gradProbes != null) {
            // Adding a zero leaf leaves the value exactly as it was, and its gradient is the activation's.
            NDArray probe = keep(current.zerosLike());
            probe.setRequiresGradient(true);
            mine.gradProbes.put(name, probe);
            current = current.add(probe);
        }
        return current;
    }

    /** The hooks of threads that have ended without removing them, or null if there are none. */
    private List<HookFn> orphans() {
        List<HookFn> orphaned = null;
        for (Map.Entry<Thread, PerThread> e : perThread.entrySet()) {
            if (!e.getKey().isAlive() && !e.getValue().hooks.isEmpty()) {
                orphaned = orphaned == null ? new ArrayList<>() : orphaned;
                orphaned.addAll(e.getValue().hooks);
            }
        }
        return orphaned;
    }

    private NDArray runHooks(List<HookFn> fns, NDArray current) {
        for (HookFn fn : fns) {
            NDArray input = current;
            NDArray replaced = Scopes.outside(() -> fn.apply(input, this));
            if (replaced != null && replaced != current) {
                checkReplacement(current, replaced);
                current = keep(replaced);
            }
        }
        return current;
    }

    /** A forward pass frees its temporaries when it ends; what hooks or caches have seen must outlive it. */
    private static NDArray keep(NDArray array) {
        NDScope.unregister(array);
        return array;
    }

    private void checkReplacement(NDArray original, NDArray replaced) {
        if (!replaced.getShape().equals(original.getShape())) {
            throw new HookShapeException(name, original.getShape(), replaced.getShape());
        }
        if (replaced.getDataType() != original.getDataType()) {
            throw new IllegalStateException("The hook at " + name + " returned " + replaced.getDataType()
                    + " but the model computes in " + original.getDataType()
                    + ". Convert it with .toType(DataType." + original.getDataType().name() + ", false).");
        }
    }

    /** Attaches a hook for every run, from any thread, until removed. */
    public void add(HookFn fn) {
        hooks.add(fn);
    }

    public boolean remove(HookFn fn) {
        return hooks.remove(fn);
    }

    /** Attaches a hook for the runs of {@code thread} only, until {@link #removeFor} (which any thread may call). */
    public void addFor(Thread thread, HookFn fn) {
        update(thread, mine -> mine.hooks.add(fn));
    }

    public void removeFor(Thread thread, HookFn fn) {
        update(thread, mine -> mine.hooks.remove(fn));
    }

    /** Removes every hook, those of all threads too; recordings in progress go on. */
    public void clearHooks() {
        hooks.clear();
        perThread.keySet().forEach(t -> update(t, mine -> mine.hooks.clear()));
    }

    /** Hooks attached here: for every thread, and for each thread. */
    public int hookCount() {
        return hooks.size() + perThread.values().stream().mapToInt(mine -> mine.hooks.size()).sum();
    }

    /** Records every activation this thread's runs pass through into {@code sink} until {@link #stopRecording()}. */
    public void recordInto(Map<String, NDArray> sink) {
        update(Thread.currentThread(), mine -> mine.cacheSink = sink);
    }

    /**
     * Records what this point receives, before any hook here acts, on this thread's runs until {@link #stopRecording()}:
     * a run restarted from here passes it through the same hooks once, not twice.
     */
    public void recordInputsInto(Map<String, NDArray> sink) {
        update(Thread.currentThread(), mine -> mine.inputSink = sink);
    }

    /** Adds a gradient probe on each of this thread's runs, into {@code probes}, until {@link #stopRecording()}. */
    public void probeGradientsInto(Map<String, NDArray> probes) {
        update(Thread.currentThread(), mine -> mine.gradProbes = probes);
    }

    /** Stops this thread's recording and gradient probes. */
    public void stopRecording() {
        update(Thread.currentThread(), mine -> {
            mine.cacheSink = null;
            mine.inputSink = null;
            mine.gradProbes = null;
        });
    }

    private void update(Thread thread, java.util.function.Consumer<PerThread> change) {
        perThread.compute(thread, (t, mine) -> {
            PerThread state = mine != null ? mine : new PerThread();
            change.accept(state);
            return state.isEmpty() ? null : state;
        });
    }

    @Override
    public String toString() {
        return "HookPoint(" + name + ", " + hookCount() + " hooks)";
    }
}
