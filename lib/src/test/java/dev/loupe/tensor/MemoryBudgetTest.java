package dev.loupe.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The budget's knob and default, and chunks sized from what a unit was measured to take. */
class MemoryBudgetTest {

    @AfterEach
    void clearKnob() {
        System.clearProperty(MemoryBudget.PROPERTY);
    }

    @Test
    void sizesAreReadInBinaryUnits() {
        assertEquals(2L << 30, MemoryBudget.parse("2g", "knob"));
        assertEquals(512L << 20, MemoryBudget.parse("512M", "knob"));
        assertEquals(3L << 29, MemoryBudget.parse("1.5GiB", "knob"));
        assertEquals(300_000, MemoryBudget.parse("300000", "knob"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MemoryBudget.parse("lots", "knob"));
        assertTrue(e.getMessage().contains("knob") && e.getMessage().contains("'lots'"), e.getMessage());
    }

    @Test
    void theKnobWinsOverTheMachinesDefault() {
        System.setProperty(MemoryBudget.PROPERTY, "64m");
        assertEquals(64L << 20, MemoryBudget.forWork("test").bytes());
        System.clearProperty(MemoryBudget.PROPERTY);
        long byDefault = MemoryBudget.forWork("test").bytes();
        assertTrue(byDefault > 0 && byDefault <= (long) MemoryBudget.DEFAULT_CAP_GIB << 30, "default " + byDefault);
        assertTrue(byDefault <= MemoryBudget.availableBytes() / 4 + 1, "default " + byDefault);
    }

    @Test
    void theFirstChunkIsOneUnitAndLaterChunksFillTheBudget() {
        MemoryBudget budget = MemoryBudget.of("test", 10L << 20);
        assertEquals(1, budget.nextChunk(100));
        budget.measure(1, () -> Tensors.manager().zeros(new Shape(1 << 18))); // 1 MB of float32, live at the peak
        long perUnit = budget.bytesPerUnit();
        assertTrue(perUnit >= 1 << 20 && perUnit < 2 << 20, "measured " + perUnit);
        assertEquals((10L << 20) / perUnit, budget.nextChunk(100));
        assertEquals(3, budget.nextChunk(3));
    }

    @Test
    void measureFirstMeasuresUntilAUnitWasMeasuredThenOnlyRuns() {
        MemoryBudget budget = MemoryBudget.of("test", 10L << 20);
        budget.measureFirst(1, () -> Tensors.manager().zeros(new Shape(1 << 18))); // 1 MB
        long perUnit = budget.bytesPerUnit();
        assertTrue(perUnit >= 1 << 20 && perUnit < 2 << 20, "measured " + perUnit);
        NDArray later = budget.measureFirst(1, () -> Tensors.manager().zeros(new Shape(1 << 19))); // 2 MB, not measured
        assertEquals(1 << 19, later.size());
        assertEquals(perUnit, budget.bytesPerUnit());
    }

    @Test
    void anUpperBoundLetsTheFirstChunkTakeWhatFitsUnderIt() {
        MemoryBudget budget = MemoryBudget.of("test", 10L << 20);
        budget.atMost(1L << 20);
        assertEquals(10, budget.nextChunk(100));
        assertEquals(7, budget.nextChunk(7));
        budget.measure(10, () -> Tensors.manager().zeros(new Shape(10 << 16))); // 2.5 MB for 10 units
        assertEquals((10L << 20) / budget.bytesPerUnit(), budget.nextChunk(100), "measured, the bound no longer counts");
    }

    @Test
    void aUnitLargerThanTheBudgetFailsNamingTheBudgetAndTheKnob() {
        MemoryBudget budget = MemoryBudget.of("Path patching", 1L << 20);
        MemoryBudgetException e = assertThrows(MemoryBudgetException.class,
                () -> budget.measure(1, () -> Tensors.manager().zeros(new Shape(1 << 20)))); // 4 MB
        assertTrue(e.getMessage().startsWith("Path patching: one unit took 4 MB, over the memory budget of 1 MB"), e.getMessage());
        assertTrue(e.getMessage().contains(MemoryBudget.ENV) && e.getMessage().contains("-D" + MemoryBudget.PROPERTY),
                e.getMessage());
        MemoryBudgetException early = assertThrows(MemoryBudgetException.class, () -> budget.requireUnitFits(3L << 20, "copy"));
        assertTrue(early.getMessage().contains("one copy needs at least 3 MB"), early.getMessage());
    }

    @Test
    void thePeakIsTheMostLiveAtOnce() {
        Tensors.collect();
        long before = Tensors.liveBytes();
        Tensors.resetPeak();
        NDArray a = Tensors.manager().zeros(new Shape(1 << 18)); // 1 MB
        NDArray b = Tensors.manager().zeros(new Shape(1 << 18));
        a.close();
        b.close();
        NDArray c = Tensors.manager().zeros(new Shape(1 << 17));
        long peak = Tensors.peakBytes() - before;
        assertTrue(peak >= 2 << 20 && peak < 3 << 20, "peak " + peak);
        c.close();
    }
}
