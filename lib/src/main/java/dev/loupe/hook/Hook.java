package dev.loupe.hook;

import java.util.function.Predicate;

/**
 * A hook function bound to the hook points it runs at: one name ({@link #of}) or every name a filter
 * accepts ({@link #matching}), as TransformerLens's {@code fwd_hooks=[(name_or_filter, fn)]}.
 */
public record Hook(String name, Predicate<String> filter, HookFn fn) {

    public static Hook of(String name, HookFn fn) {
        return new Hook(name, name::equals, fn);
    }

    /** A hook on every hook point whose name the filter accepts. */
    public static Hook matching(Predicate<String> filter, HookFn fn) {
        return new Hook(null, filter, fn);
    }

    @Override
    public String toString() {
        return "Hook(" + (name != null ? name : "<filter>") + ")";
    }
}
