package dev.loupe.train;

/** The learning rate at each step. */
@FunctionalInterface
public interface LrSchedule {

    double at(long step);

    /** This schedule before step {@code from}; from then on {@code next}, counting its steps from {@code from}. */
    default LrSchedule then(long from, LrSchedule next) {
        return step -> step < from ? at(step) : next.at(step - from);
    }

    static LrSchedule constant(double lr) {
        return step -> lr;
    }

    /** Linear warm-up from 0 to {@code lr} over {@code warmup} steps, then constant. */
    static LrSchedule warmup(double lr, long warmup) {
        return step -> step < warmup ? lr * (step + 1) / warmup : lr;
    }

    /** Linear warm-up, then cosine decay to {@code minLr} at {@code total} steps. */
    static LrSchedule warmupCosine(double lr, long warmup, long total, double minLr) {
        return step -> {
            if (step < warmup) {
                return lr * (step + 1) / warmup;
            }
            double progress = Math.min(1, (double) (step - warmup) / Math.max(1, total - warmup));
            return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
        };
    }
}
