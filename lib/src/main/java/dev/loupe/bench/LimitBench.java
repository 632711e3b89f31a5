package dev.loupe.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;

import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

import dev.loupe.display.Display;
import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.AttributionPatching;
import dev.loupe.patching.Patching;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Each figure beside the limit this machine sets for it: Loupe's forward pass, runWithCache and patching on a
 * GPT-2-small-shaped and a Llama-3.2-1B-shaped model (random weights), each set against the rate libtorch reaches on
 * the same matrix products alone.
 *
 * <p>Measures: forward 1×128 and 8×128 and runWithCache 8×128 (every activation) on both models; on GPT-2 also forward
 * 1×15, the resid_pre activation patching sweep over those 15 tokens (12 layers × 15 positions, {@link
 * Patching#residPre}) and attribution patching on them ({@link AttributionPatching#run}).
 *
 * <p>For each: its FLOPs (the matrix products of {@link ForwardGemms#forward}: projections, attention scores and
 * pattern × values, MLP, unembedding); the median and minimum of {@code --runs} timed runs after warm-up; the achieved
 * rate, FLOPs / median; the GEMM peak; the fraction of peak, achieved / peak; and min / median.
 *
 * <p>The GEMM peak is measured in this process just before each measure: that measure's own matrix products alone, the
 * same (batch, m, k, n) shapes in the same order, on the model's own weights and random float32 activations made
 * beforehand, through NDArray.matMul on the same libtorch and threads; passes over them repeated for at least 0.5 s, the
 * best of three; per-head projections both head by head, as the model runs them, and as one matrix, the faster list
 * counting ({@link ForwardGemms#peak}); timed just before the measure's runs and just after them, the higher counting.
 * It is what the measure would reach if everything but its matrix products
 * took no time. The 1024² GEMM rate is printed once for reference.
 *
 * <p>The resid_pre sweep is set against its FLOP limit ({@link ForwardGemms#residPreSweepLimit}): its FLOPs are that
 * limit, its peak is that of a batch of 15 copies of the prompt (15 × 15 tokens, 15 positions unembedded: a layer's 15
 * patches over every position, the largest batch the sweep runs; those starting at the patched position are smaller,
 * and smaller products run slower, so this ceiling is if anything strict), and "× its FLOP limit" is median / (limit / peak), the inverse of its fraction of peak. Attribution
 * patching is counted in forward passes: its median over the median forward 1×15 of the same tokens.
 *
 * <p>Run: {@code ./loupe bench [--runs N] [--only gpt2|llama] [--json] [--peer]}. {@code --json} prints one JSON
 * document on standard output (the table goes to standard error as the measures finish). {@code --peer} belongs to the
 * script: once this process has ended it runs {@code bench/peers/forward_torch.py}, whose JSON has the same form, then
 * this class with {@code --combine LOUPE.json PEER.json} to print both and the peer / Loupe ratios of the medians.
 */
public final class LimitBench {

    private static final String USAGE = "LimitBench [--runs N] [--only gpt2|llama] [--json] | --combine LOUPE.json PEER.json [--json]";

    private static final Map<String, ModelConfig> MODELS = new LinkedHashMap<>();

    static {
        MODELS.put("gpt2", BenchModels.GPT2_SMALL);
        MODELS.put("llama", BenchModels.LLAMA_3_2_1B);
    }

    /** One measure's figures (seconds, FLOPs, FLOP/s); null where a figure does not apply to it. */
    record Measure(String model, String measure, Double flops, Double peakFlopsPerS, int runs, double medianS, double minS,
                   Double achievedFlopsPerS, Double fractionOfPeak, double minOverMedian, Double flopLimitMultiple,
                   Double forwardPasses, Long cacheBytes) {}

    /** What ran where, and its measures: the JSON that {@code --json} prints and the peer script prints too. */
    record Report(String runtime, int threads, int runs, double gemm1024FlopsPerS, List<Measure> measures) {}

    record Ratio(String model, String measure, double loupeMedianS, double peerMedianS, double peerOverLoupe) {}

    /** What {@code --combine ... --json} prints. */
    record Combined(Report loupe, Report peer, List<Ratio> ratios) {}

    static final Gson GSON = new GsonBuilder().setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES)
            .setPrettyPrinting().create();

    public static void main(String[] args) throws IOException {
        Locale.setDefault(Locale.ROOT);
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage() + "\nUsage: " + USAGE);
            System.exit(2);
            return;
        }
        if (options.combine() != null) {
            combine(read(options.combine()[0]), read(options.combine()[1]), options.json());
            return;
        }
        // sweeps show progress bars on standard output, which is the table's or the JSON's
        Display.setSink(Display.Sink.discarding(false));
        PrintStream table = options.json() ? System.err : System.out;
        Report report = new Report("Loupe, libtorch " + Engine.getEngine("PyTorch").getVersion(), JniUtils.getNumThreads(),
                options.runs(), ForwardGemms.square1024(), new ArrayList<>());
        printHeader(table, report);
        Consumer<Measure> out = m -> {
            report.measures().add(m);
            table.println(row(m));
        };
        for (String key : options.models()) {
            try (HookedTransformer model = HookedTransformer.create(MODELS.get(key), 0)) {
                forwardAndCache(model, key, options.runs(), out);
                if (key.equals("gpt2")) {
                    patching(model, key, options.runs(), out);
                }
            }
        }
        if (options.json()) {
            System.out.println(GSON.toJson(report));
        }
    }

    private static void forwardAndCache(HookedTransformer model, String key, int runs, Consumer<Measure> out) {
        ModelConfig c = model.config();
        for (int batch : new int[] {1, 8}) {
            out.accept(forward(model, key, BenchModels.randomTokens(batch, 128, c.dVocab()), runs));
        }
        NDArray tokens = BenchModels.randomTokens(8, 128, c.dVocab());
        List<ForwardGemms.Gemm> gemms = ForwardGemms.forward(c, 8, 128, 8 * 128);
        long[] bytes = new long[1];
        Timed timed = timed(model, gemms, runs, () -> {
            try (ActivationCache cache = model.runWithCache(tokens)) {
                bytes[0] = cache.memoryBytes();
            }
        });
        double peak = timed.peak();
        double[] seconds = timed.seconds();
        out.accept(atPeak(key, "runWithCache 8x128", ForwardGemms.flops(gemms), peak, seconds, bytes[0]));
    }

    private static Measure forward(HookedTransformer model, String key, NDArray tokens, int runs) {
        int batch = (int) tokens.getShape().get(0);
        int pos = (int) tokens.getShape().get(1);
        List<ForwardGemms.Gemm> gemms = ForwardGemms.forward(model.config(), batch, pos, (long) batch * pos);
        Timed timed = timed(model, gemms, runs, () -> model.forward(tokens).close());
        return atPeak(key, "forward " + batch + "x" + pos, ForwardGemms.flops(gemms), timed.peak(), timed.seconds(), null);
    }

    private static void patching(HookedTransformer model, String key, int runs, Consumer<Measure> out) {
        ModelConfig c = model.config();
        PatchingBench.Prompts prompts = PatchingBench.Prompts.of(c);
        int pos = (int) prompts.clean().getShape().get(1);
        Measure forward = forward(model, key, prompts.corrupted(), runs);
        out.accept(forward);
        try (ActivationCache clean = model.runWithCache(prompts.clean())) {
            // The largest batch the sweep runs: a copy of the prompt per position, unembedded at the metric's one position.
            Timed timed = timed(model, ForwardGemms.forward(c, pos, pos, pos), runs,
                    () -> Patching.residPre(model, prompts.corrupted(), clean, prompts.metric()));
            double peak = timed.peak();
            double limit = ForwardGemms.residPreSweepLimit(c, pos);
            double[] s = timed.seconds();
            double median = median(s);
            out.accept(new Measure(key, "resid_pre sweep " + c.nLayers() + "x" + pos, limit, peak, runs, median, s[0],
                    limit / median, limit / median / peak, s[0] / median, median / (limit / peak), null, null));
        }
        double[] s = seconds(runs, () -> AttributionPatching.run(model, prompts.clean(), prompts.corrupted(), prompts.metric()));
        double median = median(s);
        out.accept(new Measure(key, "attribution patching 1x" + pos, null, null, runs, median, s[0], null, null, s[0] / median,
                null, median / forward.medianS(), null));
    }

    /** Sorted seconds of timed runs, and the GEMM peak of their products. */
    private record Timed(double peak, double[] seconds) {}

    /**
     * {@code runs} timed runs of {@code run}, and the GEMM peak of {@code gemms} measured just before and just after
     * them, the higher counting: a peak timed while a neighbour on the host slowed the cores would flatter the runs.
     */
    private static Timed timed(HookedTransformer model, List<ForwardGemms.Gemm> gemms, int runs, Runnable run) {
        double before = ForwardGemms.peak(model, gemms);
        double[] seconds = seconds(runs, run);
        return new Timed(Math.max(before, ForwardGemms.peak(model, gemms)), seconds);
    }

    /** A measure of {@code flops} per run against a GEMM peak of {@code peak} FLOP/s. */
    private static Measure atPeak(String key, String measure, double flops, double peak, double[] sorted, Long cacheBytes) {
        double median = median(sorted);
        return new Measure(key, measure, flops, peak, sorted.length, median, sorted[0], flops / median, flops / median / peak,
                sorted[0] / median, null, null, cacheBytes);
    }

    /**
     * Seconds of {@code runs} timed runs, sorted, after warm-up: two runs, or one when it took over five seconds (the
     * first run pays for allocation and first touches; the resid_pre sweep, 1.2 s settled, takes two runs to settle: 2.0,
     * 1.6, then 1.4–1.2 s; a long one leaves nothing for a second to settle).
     */
    private static double[] seconds(int runs, Runnable body) {
        long start = System.nanoTime();
        body.run();
        if (System.nanoTime() - start < 5_000_000_000L) {
            body.run();
        }
        double[] seconds = new double[runs];
        for (int i = 0; i < runs; i++) {
            start = System.nanoTime();
            body.run();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(seconds);
        return seconds;
    }

    static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    // ---------------------------------------------------------------- tables

    private static void printHeader(PrintStream out, Report r) {
        out.printf("%s, %d threads, median and min of %d timed runs; 1024x1024 GEMM: %.1f GFLOP/s%n", r.runtime(), r.threads(),
                r.runs(), r.gemm1024FlopsPerS() / 1e9);
        out.printf("%-6s %-26s %9s %10s %9s %9s %9s %8s %8s%n", "model", "measure", "GFLOP", "peak GF/s", "median s",
                "min s", "GFLOP/s", "of peak", "min/med");
    }

    static String row(Measure m) {
        String note = m.cacheBytes() != null ? String.format("cache %,.0f MB", m.cacheBytes() / 1e6)
                : m.flopLimitMultiple() != null ? String.format("%.2fx its FLOP limit", m.flopLimitMultiple())
                : m.forwardPasses() != null ? String.format("%.2f forward passes", m.forwardPasses()) : "";
        return String.format("%-6s %-26s %9s %10s %9.3f %9.3f %9s %8s %8.2f  %s", m.model(), m.measure(), giga(m.flops()),
                giga(m.peakFlopsPerS()), m.medianS(), m.minS(), giga(m.achievedFlopsPerS()),
                m.fractionOfPeak() == null ? "-" : String.format("%.0f%%", 100 * m.fractionOfPeak()), m.minOverMedian(), note)
                .stripTrailing();
    }

    private static String giga(Double x) {
        return x == null ? "-" : String.format("%.1f", x / 1e9);
    }

    /** Both reports, then the peer's median over Loupe's for each measure both ran. */
    private static void combine(Report loupe, Report peer, boolean json) {
        List<Ratio> ratios = new ArrayList<>();
        for (Measure l : loupe.measures()) {
            for (Measure p : peer.measures()) {
                if (p.model().equals(l.model()) && p.measure().equals(l.measure())) {
                    ratios.add(new Ratio(l.model(), l.measure(), l.medianS(), p.medianS(), p.medianS() / l.medianS()));
                }
            }
        }
        if (json) {
            System.out.println(GSON.toJson(new Combined(loupe, peer, ratios)));
            return;
        }
        for (Report r : List.of(loupe, peer)) {
            printHeader(System.out, r);
            r.measures().forEach(m -> System.out.println(row(m)));
            System.out.println();
        }
        System.out.printf("%-6s %-26s %14s %14s %11s%n", "model", "measure", "Loupe median s", "peer median s", "peer/Loupe");
        for (Ratio r : ratios) {
            System.out.printf("%-6s %-26s %14.3f %14.3f %11.2f%n", r.model(), r.measure(), r.loupeMedianS(), r.peerMedianS(),
                    r.peerOverLoupe());
        }
    }

    private static Report read(Path file) throws IOException {
        return GSON.fromJson(Files.readString(file), Report.class);
    }

    private record Options(int runs, boolean json, List<String> models, Path[] combine) {
        static Options parse(String[] args) {
            int runs = 10;
            boolean json = false;
            List<String> models = new ArrayList<>(MODELS.keySet());
            Path[] combine = null;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--runs" -> {
                        runs = Integer.parseInt(value(args, ++i, "--runs"));
                        if (runs < 1) {
                            throw new IllegalArgumentException("--runs must be at least 1");
                        }
                    }
                    case "--json" -> json = true;
                    case "--only" -> {
                        String key = value(args, ++i, "--only");
                        if (!MODELS.containsKey(key)) {
                            throw new IllegalArgumentException("--only takes one of " + MODELS.keySet() + ", not " + key);
                        }
                        models = List.of(key);
                    }
                    case "--combine" -> combine = new Path[] {Path.of(value(args, ++i, "--combine")), Path.of(value(args, ++i, "--combine"))};
                    default -> throw new IllegalArgumentException("Unknown argument " + args[i]);
                }
            }
            return new Options(runs, json, models, combine);
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }
    }
}
