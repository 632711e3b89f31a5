package dev.loupe.model;

import dev.loupe.hook.Hook;
import dev.loupe.hook.HookFn;
import dev.loupe.hook.HookPoint;

import java.util.ArrayList;
import java.util.List;

/** Hooks attached by {@link HookedTransformer#hooks}; closing removes them. */
public final class HookSession implements AutoCloseable {

    private record Attached(HookPoint point, HookFn fn) {}

    private final List<Attached> attached = new ArrayList<>();

    HookSession() {}

    void attach(HookPoint point, Hook hook) {
        // A distinct wrapper per attachment so removing it cannot remove the same fn attached elsewhere.
        HookFn fn = (activation, p) -> hook.fn().apply(activation, p);
        point.add(fn);
        attached.add(new Attached(point, fn));
    }

    @Override
    public void close() {
        for (Attached a : attached) {
            a.point().remove(a.fn());
        }
        attached.clear();
    }
}
