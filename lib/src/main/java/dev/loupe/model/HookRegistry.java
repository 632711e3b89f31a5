package dev.loupe.model;

import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.hook.HookPoint;
import dev.loupe.hook.UnknownHookException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** A model's hook points by name, in the order the forward pass reaches them. */
final class HookRegistry {

    private final Map<String, HookPoint> points = new LinkedHashMap<>();

    /** Makes the hook point with this full name; components call this where the activation is made. */
    HookPoint point(String name) {
        HookPoint point = new HookPoint(name);
        if (points.putIfAbsent(name, point) != null) {
            throw new IllegalStateException("Duplicate hook point " + name);
        }
        return point;
    }

    HookPoint get(String name) {
        HookPoint point = points.get(name);
        if (point == null) {
            throw new UnknownHookException(name, ActNames.closest(name, points.keySet(), 3), points.size(),
                    ActNames.layerHint(name, points.keySet()));
        }
        return point;
    }

    boolean contains(String name) {
        return points.containsKey(name);
    }

    List<String> names() {
        return Collections.unmodifiableList(new ArrayList<>(points.keySet()));
    }

    Iterable<HookPoint> all() {
        return points.values();
    }

    /** The hook points whose names the filter accepts, in order; none is an error (nothing would be cached or hooked). */
    List<HookPoint> matching(Predicate<String> filter) {
        List<HookPoint> found = new ArrayList<>();
        for (HookPoint p : points.values()) {
            if (filter.test(p.name())) {
                found.add(p);
            }
        }
        if (found.isEmpty()) {
            List<String> names = names();
            throw new IllegalArgumentException("The names filter matches none of the model's " + names.size()
                    + " hook points (e.g. " + names.get(0) + ", " + names.get(names.size() - 1)
                    + "); nothing would be cached or hooked.");
        }
        return found;
    }

    /** A session with each hook attached where its name or filter says; on a bad name, nothing stays attached. */
    HookSession session(Hook... fwdHooks) {
        HookSession session = new HookSession();
        try {
            for (Hook hook : fwdHooks) {
                List<HookPoint> found = hook.name() != null ? List.of(get(hook.name())) : matching(hook.filter());
                for (HookPoint p : found) {
                    session.attach(p, hook);
                }
            }
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
        return session;
    }
}
