package dev.loupe.train;

import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecurringSpansTest {

    /** Positions whose (previous token, token) pair occurred earlier in the row: what induction can predict. */
    static boolean[] inductionPredictable(long[] row) {
        boolean[] predictable = new boolean[row.length];
        for (int i = 2; i < row.length; i++) {
            for (int j = 1; j < i && !predictable[i]; j++) {
                predictable[i] = row[j - 1] == row[i - 1] && row[j] == row[i];
            }
        }
        return predictable;
    }

    @Test
    void rowsStartWithBosAndRepeatBySeed() {
        long[] a = RecurringSpans.batch(6, 50, 10, 20, 3, 42).toLongArray();
        assertEquals(new Shape(6, 50), RecurringSpans.batch(6, 50, 10, 20, 3, 42).getShape());
        assertArrayEquals(a, RecurringSpans.batch(6, 50, 10, 20, 3, 42).toLongArray());
        assertFalse(java.util.Arrays.equals(a, RecurringSpans.batch(6, 50, 10, 20, 3, 43).toLongArray()));
        for (int i = 0; i < a.length; i++) {
            if (i % 50 == 0) {
                assertEquals(3, a[i]);
            } else {
                assertTrue(a[i] >= 10 && a[i] < 20, "id " + a[i]);
            }
        }
        var e = assertThrows(IllegalArgumentException.class, () -> RecurringSpans.batch(2, 10, 5, 6, 0, 1));
        assertTrue(e.getMessage().contains("[5, 6)"), e.getMessage());
    }

    /**
     * With 50,000 ids, chance repeats are rare, so what induction can predict is what the spans copied: per step a span
     * starts with probability 0.15 and is 3 to 8 long (5.5 on average), and all but its first token are predictable,
     * 0.15 × 4.5 / (0.85 + 0.15 × 5.5) = 0.40 of the tokens, a little less as spans need room at both ends. And the
     * rows are not periodic: no shift of 1 to 40 tokens matches more than a few percent of positions.
     */
    @Test
    void aboutTwoFifthsOfTheTokensArePredictableByInductionAndNoFixedOffsetPredictsThem() {
        int rows = 200, ctx = 128;
        long[] ids = RecurringSpans.batch(rows, ctx, 1, 50_001, 0, 7).toLongArray();
        int predictable = 0, firstOfSpan = 0;
        int[] sameAtShift = new int[41];
        for (int r = 0; r < rows; r++) {
            long[] row = java.util.Arrays.copyOfRange(ids, r * ctx, (r + 1) * ctx);
            boolean[] p = inductionPredictable(row);
            for (int i = 1; i < ctx; i++) {
                predictable += p[i] ? 1 : 0;
                firstOfSpan += p[i] && !p[i - 1] ? 1 : 0;
                for (int shift = 1; shift <= 40 && shift < i; shift++) {
                    sameAtShift[shift] += row[i] == row[i - shift] ? 1 : 0;
                }
            }
        }
        double share = predictable / (double) (rows * (ctx - 1));
        assertTrue(share > 0.33 && share < 0.41, "share predictable by induction " + share);
        assertTrue(firstOfSpan > 0.05 * rows * ctx, "many separate spans: " + firstOfSpan);
        for (int shift = 1; shift <= 40; shift++) {
            assertTrue(sameAtShift[shift] < 0.06 * rows * ctx, "shift " + shift + ": " + sameAtShift[shift]);
        }
    }
}
