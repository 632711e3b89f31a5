package dev.loupe.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;

import java.io.IOException;
import java.io.Reader;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where one forward pass spends its time: libtorch's operators (from its own profiler, top-level calls only) against
 * the wall clock, the rest being Java (Loupe, DJL's bindings, the collector); the bytes libtorch allocates; the
 * layout copies (clone, copy_, contiguous under reshape or to); the Java heap allocated and the collections. Run:
 * {@code ./loupe bench profile [llama-3.2-1b] [batch]} (128 tokens a row). The profiler adds a few microseconds to
 * each call, so the unprofiled median is printed too.
 */
public final class ForwardProfile {

    private static final int PROFILED = 3;

    public static void main(String[] args) throws IOException {
        boolean llama = args.length > 0 && args[0].equals("llama-3.2-1b");
        int batch = args.length > (llama ? 1 : 0) ? Integer.parseInt(args[llama ? 1 : 0]) : 1;
        ModelConfig cfg = llama ? BenchModels.LLAMA_3_2_1B : BenchModels.GPT2_SMALL;
        HookedTransformer model = HookedTransformer.create(cfg, 0);
        NDArray tokens = BenchModels.randomTokens(batch, 128, cfg.dVocab());
        for (int i = 0; i < 2; i++) {
            model.forward(tokens).close();
        }

        // Unprofiled: wall time, collections and Java allocation over 10 passes.
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long heapBefore = threads.getCurrentThreadAllocatedBytes();
        long[] gcBefore = collections();
        double[] seconds = new double[10];
        for (int i = 0; i < seconds.length; i++) {
            long start = System.nanoTime();
            model.forward(tokens).close();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        long[] gcAfter = collections();
        long heapPerPass = (threads.getCurrentThreadAllocatedBytes() - heapBefore) / seconds.length;
        Arrays.sort(seconds);

        // Profiled: libtorch's trace of a few passes.
        Path trace = Files.createTempFile("loupe-profile", ".json");
        long start = System.nanoTime();
        JniUtils.startProfile(false, true, true);
        for (int i = 0; i < PROFILED; i++) {
            model.forward(tokens).close();
        }
        JniUtils.stopProfile(trace.toString());
        double profiledWall = (System.nanoTime() - start) / 1e9 / PROFILED;
        List<Op> ops = topLevelOps(trace);
        Files.deleteIfExists(trace);

        double torch = ops.stream().mapToDouble(Op::seconds).sum() / PROFILED;
        System.out.printf("%s, batch %d x 128, 2 threads%n", cfg.modelName(), batch);
        System.out.printf("forward, unprofiled: median %.3f s, min %.3f s; collections in 10 passes: %d (%d ms); "
                + "Java heap allocated: %.1f KB a pass%n", seconds[5], seconds[0], gcAfter[0] - gcBefore[0],
                gcAfter[1] - gcBefore[1], heapPerPass / 1e3);
        System.out.printf("profiled pass: %.3f s wall, %.3f s in libtorch operators (%.1f%%), %.3f s elsewhere (Java, bindings)%n",
                profiledWall, torch, 100 * torch / profiledWall, profiledWall - torch);
        System.out.printf("libtorch allocated %.1f MB a pass in %d top-level calls%n",
                ops.stream().mapToLong(Op::bytes).filter(b -> b > 0).sum() / 1e6 / PROFILED, ops.size() / PROFILED);
        Map<String, double[]> byKind = new HashMap<>();
        for (Op op : ops) {
            double[] sum = byKind.computeIfAbsent(op.kind(), k -> new double[2]);
            sum[0] += op.seconds() / PROFILED;
            sum[1] += 1.0 / PROFILED;
        }
        System.out.printf("%-12s %10s %8s %8s%n", "operators", "s a pass", "share", "calls");
        byKind.entrySet().stream().sorted(Comparator.comparingDouble(e -> -e.getValue()[0])).forEach(e ->
                System.out.printf("%-12s %10.4f %7.1f%% %8.0f%n", e.getKey(), e.getValue()[0], 100 * e.getValue()[0] / profiledWall, e.getValue()[1]));
        Map<String, double[]> byShape = new HashMap<>();
        for (Op op : ops) {
            double[] sum = byShape.computeIfAbsent(op.name() + " " + op.shapes(), k -> new double[2]);
            sum[0] += op.seconds() / PROFILED;
            sum[1] += 1.0 / PROFILED;
        }
        System.out.printf("%nthe 15 costliest operators by input shapes:%n");
        byShape.entrySet().stream().sorted(Comparator.comparingDouble(e -> -e.getValue()[0])).limit(15).forEach(e ->
                System.out.printf("%10.4f s %5.0f x  %s%n", e.getValue()[0], e.getValue()[1], e.getKey()));
    }

    /** One top-level libtorch call: name, input shapes, duration, bytes allocated, and whether it copied a layout. */
    private record Op(String name, String shapes, double seconds, long bytes, boolean copies) {
        /** Matrix products, layout copies, or the elementwise and reduction work between them. */
        String kind() {
            if (name.equals("aten::matmul") || name.equals("aten::mm") || name.equals("aten::bmm")) {
                return "products";
            }
            return copies ? "copies" : "elementwise";
        }
    }

    /** Calls not nested in another call on the same thread; a reshape or to that had to copy counts as a copy. */
    private static List<Op> topLevelOps(Path trace) throws IOException {
        JsonElement root;
        try (Reader reader = Files.newBufferedReader(trace)) {
            root = JsonParser.parseReader(reader);
        }
        JsonArray events = root.isJsonObject() ? root.getAsJsonObject().getAsJsonArray("traceEvents") : root.getAsJsonArray();
        List<JsonObject> calls = new ArrayList<>();
        for (JsonElement e : events) {
            JsonObject o = e.getAsJsonObject();
            if (o.has("ph") && o.get("ph").getAsString().equals("X")) {
                calls.add(o);
            }
        }
        calls.sort(Comparator.comparingLong((JsonObject o) -> o.get("tid").getAsLong())
                .thenComparingDouble(o -> o.get("ts").getAsDouble()).thenComparingDouble(o -> -o.get("dur").getAsDouble()));
        List<Op> top = new ArrayList<>();
        long tid = Long.MIN_VALUE;
        double end = Double.NEGATIVE_INFINITY;
        Op open = null;
        for (JsonObject o : calls) {
            double ts = o.get("ts").getAsDouble();
            if (o.get("tid").getAsLong() == tid && ts < end) {
                String name = o.get("name").getAsString();
                if (open != null && !open.copies() && (name.equals("aten::clone") || name.equals("aten::copy_"))) {
                    open = new Op(open.name(), open.shapes(), open.seconds(), open.bytes(), true);
                    top.set(top.size() - 1, open);
                }
                continue;
            }
            tid = o.get("tid").getAsLong();
            end = ts + o.get("dur").getAsDouble();
            String name = o.get("name").getAsString();
            String shapes = o.has("shape") ? o.get("shape").toString() : "";
            long bytes = o.has("cpu mem") ? parseBytes(o.get("cpu mem").getAsString()) : 0;
            open = new Op(name, shapes, o.get("dur").getAsDouble() / 1e6, bytes,
                    name.equals("aten::clone") || name.equals("aten::copy_") || name.equals("aten::contiguous"));
            top.add(open);
        }
        return top;
    }

    /** libtorch writes sizes as "1.50 Mb", "512 b", "-3 Kb". */
    private static long parseBytes(String text) {
        String[] parts = text.trim().split(" ");
        double value = Double.parseDouble(parts[0]);
        String unit = parts.length > 1 ? parts[1] : "b";
        return (long) (value * switch (unit) {
            case "Kb" -> 1024.0;
            case "Mb" -> 1024.0 * 1024;
            case "Gb" -> 1024.0 * 1024 * 1024;
            default -> 1.0;
        });
    }

    private static long[] collections() {
        long count = 0;
        long millis = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, gc.getCollectionCount());
            millis += Math.max(0, gc.getCollectionTime());
        }
        return new long[] {count, millis};
    }
}
