package dev.loupe.spark;

import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.DocumentWindows;
import dev.loupe.sae.FeatureActivations;
import dev.loupe.sae.FeatureStats;
import dev.loupe.sae.Units;
import dev.loupe.tokenize.Tokenizer;
import dev.loupe.train.BrownCorpus;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code ./loupe spark bench [--tokens N]}: maxActivating's tokens/s on {@code loupe/ioi-organism} (4 layers, d_model
 * 128) and its SAE (1,024 features on blocks.2.hook_resid_pre) over N tokens of Brown text (the corpus repeated,
 * written once as Parquet under target/spark-bench): the single-machine loop (tokenizing and
 * {@link FeatureActivations#maxActivating}, documents already in memory), then the Spark job on {@code local[1]} and
 * {@code local[2]} reading the Parquet, each after a warm-up, and Spark's overhead against the loop. Each Spark result
 * is checked equal to the loop's.
 */
final class SparkBench {

    private static final String MODEL = "loupe/ioi-organism";
    private static final String SAE = "loupe/sae-ioi-organism";
    private static final int FILES = 8;

    private SparkBench() {}

    static void run(Options o) throws IOException {
        int tokens = o.integer("tokens", 10_000_000);
        int k = o.integer("k", 20);
        int context = o.integer("context", 64);
        HookedTransformer model = ExecutorModels.model(MODEL);
        Units units = Units.features(ExecutorModels.sae(SAE));
        Tokenizer tokenizer = model.tokenizer().orElseThrow();
        Path corpus = Path.of("target", "spark-bench", "brown-" + tokens + "-" + context + ".parquet").toAbsolutePath();

        SparkSession spark = LocalSpark.start("local[2]");
        List<String> documents;
        try {
            if (!Files.exists(corpus)) {
                List<String> docs = brownRepeated(tokenizer, tokens, context);
                spark.createDataset(new JavaSparkContext(spark.sparkContext()).parallelize(docs, FILES).rdd(), Encoders.STRING())
                        .toDF(Corpus.TEXT_COLUMN).write().parquet(corpus.toString());
            }
            documents = Corpus.read(spark, corpus.toString()).collectAsList(); // in the order Spark numbers the windows
        } finally {
            spark.stop();
        }

        FeatureActivations.maxActivating(model, units, windows(tokenizer, documents.subList(0, 20), context), k); // warm-up
        long t0 = System.nanoTime();
        FeatureStats single = FeatureActivations.maxActivating(model, units, windows(tokenizer, documents, context), k);
        double singleSeconds = (System.nanoTime() - t0) / 1e9;
        documents = null; // the Spark runs read the Parquet

        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "maxActivating: %s, %s, k %d, windows of %d, %,d tokens of Brown text (%s)", MODEL, units, k,
                context, single.tokens(), corpus.getFileName()));
        lines.add(String.format(Locale.ROOT, "  %-52s %8.1f s %,10.0f tokens/s", "single machine (tokenizing + maxActivating)",
                singleSeconds, single.tokens() / singleSeconds));
        for (String master : List.of("local[1]", "local[2]")) {
            spark = LocalSpark.start(master);
            try {
                int partitions = 4 * spark.sparkContext().defaultParallelism();
                MaxActivating.of(spark, MODEL, UnitsSpec.features(SAE), Corpus.read(spark, corpus.toString()).limit(20), k, context); // warm-up
                long t = System.nanoTime();
                FeatureStats spread = MaxActivating.of(spark, MODEL, UnitsSpec.features(SAE), Corpus.read(spark, corpus.toString()), k,
                        context, partitions);
                double seconds = (System.nanoTime() - t) / 1e9;
                lines.add(String.format(Locale.ROOT, "  %-52s %8.1f s %,10.0f tokens/s  %+.1f%% time against the loop; result %s",
                        "Spark " + master + ", " + partitions + " partitions, reading Parquet", seconds, spread.tokens() / seconds,
                        100 * (seconds / singleSeconds - 1), same(single, spread) ? "equal" : "DIFFERENT"));
            } finally {
                spark.stop();
            }
        }
        lines.forEach(System.out::println);
    }

    /** Brown's documents, again and again, until they hold at least {@code tokens} tokens in windows of {@code context}. */
    private static List<String> brownRepeated(Tokenizer tokenizer, int tokens, int context) throws IOException {
        List<String> brown = BrownCorpus.documents(BrownCorpus.fetch(Path.of("target", "data")));
        List<String> out = new ArrayList<>();
        long have = 0;
        for (int i = 0; have < tokens; i = (i + 1) % brown.size()) {
            out.add(brown.get(i));
            have += DocumentWindows.of(tokenizer, brown.get(i), context).stream().mapToInt(w -> w.length).sum();
        }
        return out;
    }

    private static List<int[]> windows(Tokenizer tokenizer, List<String> documents, int context) {
        List<int[]> out = new ArrayList<>();
        documents.forEach(d -> out.addAll(DocumentWindows.of(tokenizer, d, context)));
        return out;
    }

    /** Every unit's contexts, firings, maximum and histogram equal. */
    private static boolean same(FeatureStats a, FeatureStats b) {
        if (a.tokens() != b.tokens()) {
            return false;
        }
        for (int u = 0; u < a.dSae(); u++) {
            if (!a.top(u).equals(b.top(u)) || a.firings(u) != b.firings(u) || a.max(u) != b.max(u)
                    || !java.util.Arrays.equals(a.histogram(u).counts(), b.histogram(u).counts())) {
                return false;
            }
        }
        return true;
    }
}
