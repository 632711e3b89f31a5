package dev.loupe.spark;

import dev.loupe.sae.ActivationShards;
import dev.loupe.sae.FeatureStats;

import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import tech.tablesaw.api.Table;

/** {@code ./loupe spark maxact|harvest|bench ...}, or spark-submit with this class: see {@link #USAGE}. */
public final class Main {

    static final String USAGE = """
            Usage: ./loupe spark maxact --model M (--sae DIR | --hook H [--neurons N,N,...] [--direction FILE]) --corpus PATH
                                        [--k 20] [--context N] [--out DIR] [--text-column text] [--partitions P] [--master URL]
                   ./loupe spark harvest --model M --hooks H[,H...] --corpus PATH --out DIR
                                        [--context N] [--shard-tokens 65536] [--text-column text] [--partitions P] [--master URL]
                   ./loupe spark bench [--tokens 10000000] [--k 20] [--context 64]

              maxact   the top k contexts of each SAE feature (--sae), neuron of a hook point (--hook, every column unless
                       --neurons), or direction (--hook and --direction: a text file of numbers, one direction a line)
              harvest  activations at the hook points as safetensors shards in DIR with index.json, for
                       ActivationStore.fromShards(DIR, hook)
              bench    tokens/s of maxact on loupe/ioi-organism and its SAE over Brown text: the single-machine loop,
                       then Spark local[1] and local[2] on the same data

              --model    a folder, a Hugging Face name (read from the cache on each machine), or loupe/NAME
              --corpus   a text file or folder of them (each file one document), or Parquet (.parquet) with a text column
              --context  tokens a window holds, BOS included (default: the model's n_ctx)
              --master   local[*] (default: every core of this machine), local[N], or a cluster (spark://host:7077, yarn)
            """;

    private Main() {}

    public static void main(String[] args) throws IOException {
        if (args.length == 0 || Set.of("help", "-h", "--help").contains(args[0])) {
            System.out.print(USAGE);
            return;
        }
        String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
        try {
            switch (args[0]) {
                case "maxact" -> maxact(new Options("maxact", rest, Set.of("model", "sae", "hook", "neurons", "direction", "corpus",
                        "k", "context", "out", "text-column", "partitions", "master")));
                case "harvest" -> harvest(new Options("harvest", rest, Set.of("model", "hooks", "corpus", "out", "context",
                        "shard-tokens", "text-column", "partitions", "master")));
                case "bench" -> SparkBench.run(new Options("bench", rest, Set.of("tokens", "k", "context")));
                default -> throw new Options.UsageException("unknown command '" + args[0] + "'");
            }
        } catch (Options.UsageException e) {
            System.err.println("loupe spark: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
        } catch (IllegalArgumentException e) {
            System.err.println("loupe spark " + args[0] + ": " + e.getMessage());
            System.exit(2);
        }
    }

    private static void maxact(Options o) throws IOException {
        String model = o.required("model");
        UnitsSpec units = units(o);
        String out = o.get("out", null);
        if (out != null && Files.exists(Path.of(out))) {
            throw new Options.UsageException("maxact: the output " + out + " exists; give a new folder");
        }
        SparkSession spark = LocalSpark.start(master(o));
        try {
            int context = o.integer("context", ExecutorModels.model(model).config().nCtx());
            FeatureStats stats = MaxActivating.of(spark, model, units, Corpus.read(spark, o.required("corpus"),
                    o.get("text-column", Corpus.TEXT_COLUMN)), o.integer("k", 20), context, o.integer("partitions", 0));
            System.out.println(stats);
            printStrongest(stats, 10);
            if (out != null) {
                TopContexts.write(spark, stats, out);
                System.out.println("wrote " + out + "/top_contexts and " + out + "/units (Parquet)");
            }
        } finally {
            spark.stop();
        }
    }

    /** The top context of the {@code n} units with the largest activations. */
    private static void printStrongest(FeatureStats stats, int n) {
        Table top = stats.toTable();
        top = top.where(top.intColumn("rank").isEqualTo(0)).sortDescendingOn("activation").first(n);
        for (int r = 0; r < top.rowCount(); r++) {
            System.out.printf(Locale.ROOT, "%-14s %9.4g  window %d position %d  %s%n", top.stringColumn("name").get(r),
                    top.doubleColumn("activation").getDouble(r), top.intColumn("window").getInt(r),
                    top.intColumn("position").getInt(r), top.stringColumn("context").get(r).replace("\n", "\\n"));
        }
    }

    private static UnitsSpec units(Options o) throws IOException {
        if (o.has("sae") == o.has("hook")) {
            throw new Options.UsageException("maxact: give either --sae DIR (an SAE's features) or --hook H (neurons or directions there)");
        }
        if (o.has("sae")) {
            return UnitsSpec.features(o.required("sae"));
        }
        if (o.has("direction")) {
            return UnitsSpec.directions(o.required("hook"), directions(Path.of(o.required("direction"))));
        }
        return UnitsSpec.neurons(o.required("hook"), o.list("neurons").stream().mapToInt(s -> {
            try {
                return Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                throw new Options.UsageException("maxact: --neurons is a comma-separated list of column numbers; got '" + s + "'");
            }
        }).toArray());
    }

    /** --master, else what spark-submit set, else every core of this machine. */
    private static String master(Options o) {
        return o.get("master", System.getProperty("spark.master", "local[*]"));
    }

    /** One direction a line: numbers separated by spaces or commas. */
    static float[][] directions(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new Options.UsageException("maxact: the direction file " + file + " does not exist");
        }
        List<float[]> rows = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (line.isEmpty()) {
                continue;
            }
            String[] parts = line.split("[,\\s]+");
            float[] v = new float[parts.length];
            for (int j = 0; j < parts.length; j++) {
                try {
                    v[j] = Float.parseFloat(parts[j]);
                } catch (NumberFormatException e) {
                    throw new Options.UsageException("maxact: " + file + " line " + (i + 1) + " entry " + (j + 1) + " is '" + parts[j]
                            + "', not a number");
                }
            }
            rows.add(v);
        }
        if (rows.isEmpty()) {
            throw new Options.UsageException("maxact: " + file + " holds no direction");
        }
        return rows.toArray(float[][]::new);
    }

    private static void harvest(Options o) {
        String model = o.required("model");
        List<String> hooks = o.list("hooks");
        if (hooks.isEmpty()) {
            throw new Options.UsageException("harvest: --hooks is required");
        }
        SparkSession spark = LocalSpark.start(master(o));
        try {
            int context = o.integer("context", ExecutorModels.model(model).config().nCtx());
            ActivationShards.Index index = Harvest.of(spark, model, hooks, Corpus.read(spark, o.required("corpus"),
                    o.get("text-column", Corpus.TEXT_COLUMN)), context, o.required("out"),
                    o.integer("shard-tokens", Harvest.SHARD_TOKENS), o.integer("partitions", 0));
            System.out.printf(Locale.ROOT, "wrote %,d tokens of %s in %d shards to %s%n", index.tokens(), String.join(", ", hooks),
                    index.shards().size(), o.required("out"));
        } finally {
            spark.stop();
        }
    }
}
