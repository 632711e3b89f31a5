package dev.loupe.hook;

import ai.djl.ndarray.NDScope;

import java.lang.reflect.Field;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.Supplier;

/**
 * Runs user code (a hook function) outside the forward pass's {@link NDScope}, so that arrays it makes and
 * keeps (in a list, a field) are not freed when the pass ends. They are then ordinary Loupe arrays,
 * freed when unreferenced.
 */
final class Scopes {

    private static final ThreadLocal<Deque<NDScope>> STACK = scopeStack();

    private Scopes() {}

    static <T> T outside(Supplier<T> code) {
        Deque<NDScope> stack = STACK.get();
        if (stack.isEmpty()) {
            return code.get();
        }
        Deque<NDScope> saved = new ArrayDeque<>(stack);
        stack.clear();
        try {
            return code.get();
        } finally {
            stack.addAll(saved);
        }
    }

    @SuppressWarnings("unchecked")
    private static ThreadLocal<Deque<NDScope>> scopeStack() {
        try {
            Field field = NDScope.class.getDeclaredField("SCOPE_STACK");
            field.setAccessible(true);
            return (ThreadLocal<Deque<NDScope>>) field.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
