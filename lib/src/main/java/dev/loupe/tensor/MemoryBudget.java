package dev.loupe.tensor;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How much native memory one batched piece of work (a patching sweep, path patching) may take at once, and the
 * chunks it runs in to stay inside it. Batching many patched runs into one forward pass is what makes sweeps fast,
 * but unbounded it takes the whole machine (GPT-2 small's path patching on 60 prompts reached 24 GB and the kernel
 * was killed).
 *
 * <p>The budget is {@code LOUPE_MEMORY_BUDGET} (environment) or {@code -Dloupe.memoryBudget} (e.g. {@code 2g},
 * {@code 512m}, or bytes); by default a quarter of the memory the machine (or the container's limit) has available
 * when the work starts, at most {@value #DEFAULT_CAP_GIB} GiB: past a few thousand rows per matrix product a larger
 * batch is no faster, only bigger.
 *
 * <p>Chunks are sized by measurement, not by a formula: the first chunk is one unit (one patched copy of the batch),
 * its peak of live array bytes is measured ({@link Tensors#peakBytes()}), and later chunks take as many units as fit.
 * Only where a generous upper bound on a unit is known ({@link #atMost}) may the first chunk be larger.
 */
public final class MemoryBudget {

    public static final String ENV = "LOUPE_MEMORY_BUDGET";
    public static final String PROPERTY = "loupe.memoryBudget";
    static final int DEFAULT_CAP_GIB = 2;

    private static final Pattern SIZE = Pattern.compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([kmgt]?)i?b?\\s*", Pattern.CASE_INSENSITIVE);

    private final String work;
    private final long bytes;
    private final String origin;
    private long bytesPerUnit = -1;
    private long bytesPerUnitAtMost = -1;

    private MemoryBudget(String work, long bytes, String origin) {
        this.work = work;
        this.bytes = bytes;
        this.origin = origin;
    }

    /** The budget for {@code work} (named in errors), from the knob or from what the machine has available now. */
    public static MemoryBudget forWork(String work) {
        String setting = System.getProperty(PROPERTY);
        String source = "-D" + PROPERTY;
        if (setting == null) {
            setting = System.getenv(ENV);
            source = ENV;
        }
        if (setting != null && !setting.isBlank()) {
            return new MemoryBudget(work, parse(setting, source), "set by " + source);
        }
        long available = availableBytes();
        long cap = (long) DEFAULT_CAP_GIB << 30;
        long quarter = available / 4;
        String origin = quarter <= cap ? "a quarter of the " + format(available) + " available" : "the default cap";
        return new MemoryBudget(work, Math.max(1, Math.min(quarter, cap)), origin);
    }

    /** A budget of exactly {@code bytes}, for tests and callers that manage memory themselves. */
    public static MemoryBudget of(String work, long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("A memory budget must be positive, got " + bytes + " bytes");
        }
        return new MemoryBudget(work, bytes, "given");
    }

    public long bytes() {
        return bytes;
    }

    /**
     * Refuses work whose smallest unit certainly needs more than the budget ({@code lowerBound}: the bytes one unit
     * cannot do without, e.g. its logits), before anything is allocated.
     */
    public void requireUnitFits(long lowerBound, String unit) {
        if (lowerBound > bytes) {
            throw exceeded("one " + unit + " needs at least " + format(lowerBound));
        }
    }

    /**
     * How many of the {@code remaining} units to run next: until a unit has been measured, one, or as many as fit at
     * the {@link #atMost} bound; then as many as fit.
     */
    public int nextChunk(int remaining) {
        if (remaining <= 0) {
            throw new IllegalArgumentException("Nothing remains to be run: " + remaining + " units");
        }
        long perUnit = bytesPerUnit >= 0 ? bytesPerUnit : bytesPerUnitAtMost;
        if (perUnit < 0) {
            return 1;
        }
        return (int) Math.max(1, Math.min(remaining, bytes / Math.max(1, perUnit)));
    }

    /**
     * A bound no unit can exceed (a generous formula), for sizing the first chunk: work that fits under it runs as one
     * measured chunk rather than measuring a unit alone first.
     */
    public void atMost(long bytesPerUnit) {
        bytesPerUnitAtMost = bytesPerUnit;
    }

    /**
     * Runs {@code units} units of work and records the most bytes a unit took (live array bytes at the peak, less
     * those live before). Fails, naming the budget and the knob, once a single unit is found to need more.
     */
    public <T> T measure(int units, Supplier<T> chunk) {
        Tensors.collect(); // what earlier chunks left for the collector must not count against this one
        long before = Tensors.liveBytes();
        Tensors.resetPeak();
        T result = chunk.get();
        long perUnit = (Tensors.peakBytes() - before + units - 1) / units;
        bytesPerUnit = Math.max(bytesPerUnit, perUnit);
        if (bytesPerUnit > bytes) {
            throw exceeded("one unit took " + format(bytesPerUnit));
        }
        return result;
    }

    /**
     * As {@link #measure}, for work whose first chunk holds the units that need the most (a patching sweep starts with
     * the patches that run the most blocks on the most positions): once a chunk has been measured, later chunks run
     * unmeasured, without the collection that measuring needs first (tens of milliseconds a chunk).
     */
    public <T> T measureFirst(int units, Supplier<T> chunk) {
        return bytesPerUnit < 0 ? measure(units, chunk) : chunk.get();
    }

    /** Bytes one unit was measured to take; -1 before any was. */
    public long bytesPerUnit() {
        return bytesPerUnit;
    }

    private MemoryBudgetException exceeded(String why) {
        return new MemoryBudgetException(work + ": " + why + ", over the memory budget of " + format(bytes) + " (" + origin
                + "). Use fewer or shorter prompts, or raise the budget with " + ENV + "=8g in the environment or -D"
                + PROPERTY + "=8g (System.setProperty(\"" + PROPERTY + "\", \"8g\") in a notebook) if the machine has the memory.");
    }

    @Override
    public String toString() {
        return "MemoryBudget[" + work + ": " + format(bytes) + ", " + origin
                + (bytesPerUnit >= 0 ? "; " + format(bytesPerUnit) + " a unit" : "") + "]";
    }

    /** "2g", "512m", "1.5G", "300000" (bytes); binary units. */
    static long parse(String text, String source) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException(source + " must be a size such as 2g, 512m or a number of bytes; got '" + text + "'");
        }
        int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        double value = Double.parseDouble(m.group(1)) * Math.pow(2, shift);
        if (value < 1 || value > Long.MAX_VALUE / 2) {
            throw new IllegalArgumentException(source + " must be between 1 byte and 4 EiB; got '" + text + "'");
        }
        return (long) value;
    }

    /**
     * Memory available to this process now: Linux's MemAvailable (free plus reclaimable cache), lowered to the
     * container's remaining limit when there is one; elsewhere the JVM's view of free physical memory.
     */
    static long availableBytes() {
        long available = meminfoAvailable().orElseGet(MemoryBudget::freePhysical);
        OptionalLong cgroup = cgroupRemaining();
        return cgroup.isPresent() ? Math.min(available, cgroup.getAsLong()) : available;
    }

    private static OptionalLong meminfoAvailable() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024);
                }
            }
        } catch (IOException | RuntimeException notLinux) {
            // fall through to the JVM's figure
        }
        return OptionalLong.empty();
    }

    private static OptionalLong cgroupRemaining() {
        OptionalLong v2 = remaining(Path.of("/sys/fs/cgroup/memory.max"), Path.of("/sys/fs/cgroup/memory.current"));
        return v2.isPresent() ? v2 : remaining(Path.of("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
                Path.of("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
    }

    private static OptionalLong remaining(Path limitFile, Path usageFile) {
        try {
            String limit = Files.readString(limitFile).trim();
            if (limit.equals("max")) {
                return OptionalLong.empty();
            }
            long remaining = Long.parseLong(limit) - Long.parseLong(Files.readString(usageFile).trim());
            // cgroup v1 reports "no limit" as a huge number
            return Long.parseLong(limit) >= Long.MAX_VALUE / 4 ? OptionalLong.empty() : OptionalLong.of(Math.max(0, remaining));
        } catch (IOException | RuntimeException noCgroup) {
            return OptionalLong.empty();
        }
    }

    private static long freePhysical() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getFreeMemorySize();
    }

    /** Bytes as "1.5 GB" (binary units, as the budget is written). */
    public static String format(long bytes) {
        if (bytes >= 1L << 30) {
            return String.format(Locale.ROOT, "%.1f GB", bytes / (double) (1L << 30));
        }
        if (bytes >= 1L << 20) {
            return String.format(Locale.ROOT, "%.0f MB", bytes / (double) (1L << 20));
        }
        return bytes + " bytes";
    }
}
