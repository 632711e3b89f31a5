package dev.loupe.tensor;

/** Work that would take more native memory than its {@link MemoryBudget}; it was refused before the machine ran out. */
public final class MemoryBudgetException extends IllegalStateException {

    public MemoryBudgetException(String message) {
        super(message);
    }
}
