package dev.loupe.model;

import dev.loupe.hook.Hook;
import dev.loupe.hook.HookFn;
import dev.loupe.hook.HookPoint;

import java.util.ArrayList;
import java.util.List;

/**
 * Hooks attached by {@link HookedTransformer#hooks}, for the runs of the thread that opened the session only (another
 * thread's runs of the same model do not see them) until that thread ends, then for every run (a notebook cell is a
 * thread: a session left open acts in the cells after it). Closing removes them, from whatever thread it is closed.
 */
public final class HookSession implements AutoCloseable {

    private record Attached(HookPoint point, HookFn fn) {}

    private final Thread owner = Thread.currentThread();
    private final List<Attached> attached = new ArrayList<>();
    private final List<Runnable> undo = new ArrayList<>();

    HookSession() {}

    void attach(HookPoint point, Hook hook) {
        attach(point, hook.fn());
    }

    void attach(HookPoint point, HookFn hookFn) {
        // A distinct wrapper per attachment so removing it cannot remove the same fn attached elsewhere.
        HookFn fn = (activation, p) -> hookFn.apply(activation, p);
        point.addFor(owner, fn);
        attached.add(new Attached(point, fn));
    }

    /** Something else to undo on close (a splice's hook points leaving the model), last added first. */
    void onClose(Runnable action) {
        undo.add(action);
    }

    @Override
    public void close() {
        for (Attached a : attached) {
            a.point().removeFor(owner, a.fn());
        }
        attached.clear();
        for (int i = undo.size() - 1; i >= 0; i--) {
            undo.get(i).run();
        }
        undo.clear();
    }
}
