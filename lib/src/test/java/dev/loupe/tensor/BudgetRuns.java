package dev.loupe.tensor;

import java.util.function.Supplier;

/** Runs work under a memory budget set through its knob, and measures the most array bytes it had live at once. */
public final class BudgetRuns {

    /** The work's result and its peak of live array bytes above what was live before it. */
    public record Run<T>(T result, long peakBytes) {}

    private BudgetRuns() {}

    public static <T> Run<T> under(String budget, Supplier<T> work) {
        System.setProperty(MemoryBudget.PROPERTY, budget);
        try {
            Tensors.collect();
            long before = Tensors.liveBytes();
            Tensors.resetPeak();
            T result = work.get();
            return new Run<>(result, Tensors.peakBytes() - before);
        } finally {
            System.clearProperty(MemoryBudget.PROPERTY);
        }
    }
}
