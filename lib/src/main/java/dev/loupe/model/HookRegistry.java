package dev.loupe.model;

import dev.loupe.hook.ActNames;
import dev.loupe.hook.HookPoint;
import dev.loupe.hook.UnknownHookException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
}
