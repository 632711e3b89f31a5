package dev.loupe.model;

import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.hook.HookFn;
import dev.loupe.hook.HookPoint;
import dev.loupe.hook.Splice;
import dev.loupe.hook.UnknownHookException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * A model's hook points by name, in the order the forward pass reaches them: the components' own, and those of
 * whatever is spliced in ({@link Splice}) while it is. Readers see one consistent map: a splice replaces it whole.
 */
final class HookRegistry {

    private volatile Map<String, HookPoint> points = new LinkedHashMap<>();

    /** Makes the hook point with this full name; components call this where the activation is made. */
    synchronized HookPoint point(String name) {
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

    /** The first hook point, in forward order, with a hook, cache or recording active on this thread. */
    Optional<String> firstActive() {
        for (HookPoint p : points.values()) {
            if (p.isActive()) {
                return Optional.of(p.name());
            }
        }
        return Optional.empty();
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

    /**
     * A session with each splice's hook points among the model's (right after the hook point each reads or
     * replaces) and its run attached there, for this thread's runs; closing removes both. Two splices cannot share
     * a hook point's names, and a splice cannot replace an activation made before the one it reads.
     */
    HookSession splice(Splice... splices) {
        HookSession session = new HookSession();
        try {
            for (Splice splice : splices) {
                attach(session, splice);
            }
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
        return session;
    }

    private void attach(HookSession session, Splice splice) {
        HookPoint in = get(splice.inputHook());
        HookPoint out = get(splice.outputHook());
        List<String> order = names();
        if (order.indexOf(out.name()) < order.indexOf(in.name())) {
            throw new IllegalArgumentException("A splice reading " + in.name() + " cannot replace " + out.name()
                    + ", which the model makes before it.");
        }
        insert(in.name(), splice.inputPoints());
        session.onClose(() -> remove(splice.inputPoints()));
        insert(in == out ? last(in.name(), splice.inputPoints()) : out.name(), splice.outputPoints());
        session.onClose(() -> remove(splice.outputPoints()));
        Splice.Run run = splice.start();
        if (in == out) {
            session.attach(in, (a, p) -> run.atOutput(run.atInput(a)));
        } else {
            session.attach(in, (a, p) -> run.atInput(a));
            session.attach(out, (a, p) -> run.atOutput(a));
        }
    }

    private static String last(String after, List<HookPoint> inserted) {
        return inserted.isEmpty() ? after : inserted.get(inserted.size() - 1).name();
    }

    private synchronized void insert(String after, List<HookPoint> inserted) {
        for (HookPoint p : inserted) {
            if (points.containsKey(p.name())) {
                throw new IllegalArgumentException("The model already has a hook point " + p.name()
                        + ": something with the same name is spliced in already; close it first.");
            }
        }
        Map<String, HookPoint> next = new LinkedHashMap<>();
        for (Map.Entry<String, HookPoint> e : points.entrySet()) {
            next.put(e.getKey(), e.getValue());
            if (e.getKey().equals(after)) {
                inserted.forEach(p -> next.put(p.name(), p));
            }
        }
        points = next;
    }

    private synchronized void remove(List<HookPoint> removed) {
        Map<String, HookPoint> next = new LinkedHashMap<>(points);
        removed.forEach(p -> next.remove(p.name(), p));
        points = next;
    }
}
