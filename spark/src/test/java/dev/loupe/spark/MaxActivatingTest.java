package dev.loupe.spark;

import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.DocumentWindows;
import dev.loupe.sae.FeatureActivations;
import dev.loupe.sae.FeatureScan;
import dev.loupe.sae.FeatureStats;
import dev.loupe.sae.FeatureView;
import dev.loupe.sae.Units;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * maxActivating on local[2], the corpus in several partitions, against the single-machine computation over the same
 * documents: every unit's contexts (window, position, activation, tokens, activations around them), in order, and its
 * counts, maximum and histogram, equal exactly.
 */
class MaxActivatingTest {

    static final String MODEL = "loupe/ioi-organism";
    static final String SAE = "loupe/sae-ioi-organism";
    static final int CONTEXT = 24;

    static SparkSession spark;
    static List<String> documents;

    @BeforeAll
    static void start() {
        spark = LocalSpark.start("local[2]");
        documents = documents(12, 7);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Documents of Brown-like words, some repeating phrases (so that activations tie), of different lengths. */
    static List<String> documents(int n, long seed) {
        String[] words = {"the", "jury", "said", "Mary", "John", "went", "to", "store", "and", "gave", "a", "drink",
                "of", "city", "election", "was", "in", "report", "that", "it", "had", "no", "evidence", "."};
        Random r = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int d = 0; d < n; d++) {
            StringBuilder s = new StringBuilder();
            int length = 5 + r.nextInt(70);
            for (int i = 0; i < length; i++) {
                s.append(i % 17 == 3 ? " When Mary and John went to the store" : " " + words[r.nextInt(words.length)]);
            }
            out.add(s.toString().trim());
        }
        out.add(""); // a document of no tokens gives no window
        return out;
    }

    /** The documents in {@code partitions} Spark partitions, in order. */
    static Dataset<String> dataset(SparkSession spark, List<String> docs, int partitions) {
        return spark.createDataset(new JavaSparkContext(spark.sparkContext()).parallelize(docs, partitions).rdd(), Encoders.STRING());
    }

    static List<int[]> windows(HookedTransformer model, List<String> docs) {
        List<int[]> out = new ArrayList<>();
        for (String d : docs) {
            out.addAll(DocumentWindows.of(model.tokenizer().orElseThrow(), d, CONTEXT));
        }
        return out;
    }

    static void assertSameStats(FeatureStats expected, FeatureStats got) {
        assertEquals(expected.tokens(), got.tokens());
        assertEquals(expected.dSae(), got.dSae());
        int withContexts = 0;
        for (int u = 0; u < expected.dSae(); u++) {
            String unit = expected.units().name(u);
            assertEquals(expected.top(u), got.top(u), unit);
            List<FeatureView.Context> a = expected.contexts(u);
            List<FeatureView.Context> b = got.contexts(u);
            for (int i = 0; i < a.size(); i++) {
                assertArrayEquals(a.get(i).tokens(), b.get(i).tokens(), unit + " context " + i);
                assertArrayEquals(a.get(i).activations(), b.get(i).activations(), unit + " context " + i);
                assertEquals(a.get(i).top(), b.get(i).top(), unit + " context " + i);
            }
            assertEquals(expected.firings(u), got.firings(u), unit);
            assertEquals(expected.max(u), got.max(u), unit);
            assertEquals(expected.histogram(u).binWidth(), got.histogram(u).binWidth(), unit);
            assertArrayEquals(expected.histogram(u).counts(), got.histogram(u).counts(), unit);
            withContexts += a.isEmpty() ? 0 : 1;
        }
        assertTrue(withContexts > expected.dSae() / 4, "many units have contexts: " + withContexts);
    }

    @Test
    void saeFeaturesOverSeveralPartitionsEqualTheSingleMachineScan() {
        HookedTransformer model = ExecutorModels.model(MODEL);
        Units units = Units.features(ExecutorModels.sae(SAE));
        List<int[]> windows = windows(model, documents);
        int batch = 3; // windows a batch: 30-odd windows make a dozen batches over 5 partitions
        assertTrue(windows.size() > 5 * batch, "windows: " + windows.size());
        FeatureStats single = FeatureStats.of(model, units, FeatureActivations.scan(model, units, windows, 0, batch, 6, n -> { }));
        FeatureStats spread = MaxActivating.of(spark, MODEL, UnitsSpec.features(SAE), dataset(spark, documents, 4), 6, CONTEXT, 5, batch);
        assertSameStats(single, spread);
        assertTrue(spread.feature(spread.top(0).isEmpty() ? 1 : 0).mimeBundle().text().contains("Feature"), "the feature view reads it");
    }

    @Test
    void neuronsWithTheDefaultBatchesEqualMaxActivating() {
        HookedTransformer model = ExecutorModels.model(MODEL);
        FeatureStats single = FeatureActivations.maxActivating(model, Units.neurons(model, "blocks.1.mlp.hook_post", 5, 9, 200),
                windows(model, documents), 4);
        FeatureStats spread = MaxActivating.of(spark, MODEL, UnitsSpec.neurons("blocks.1.mlp.hook_post", 5, 9, 200),
                dataset(spark, documents, 3), 4, CONTEXT);
        assertSameStats(single, spread);
        assertEquals(12, spread.toTable().rowCount());
    }

    @Test
    void badInputIsRefusedBeforeAnyJob() {
        IllegalArgumentException k = assertThrows(IllegalArgumentException.class,
                () -> MaxActivating.of(spark, MODEL, UnitsSpec.features(SAE), dataset(spark, documents, 2), 0, CONTEXT));
        assertTrue(k.getMessage().contains("got 0"), k.getMessage());
        IllegalArgumentException ctx = assertThrows(IllegalArgumentException.class,
                () -> MaxActivating.of(spark, MODEL, UnitsSpec.features(SAE), dataset(spark, documents, 2), 3, 65));
        assertTrue(ctx.getMessage().contains("n_ctx") && ctx.getMessage().contains("65"), ctx.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> MaxActivating.of(spark, MODEL, UnitsSpec.neurons("blocks.1.mlp.hook_pots"), dataset(spark, documents, 2), 3, CONTEXT));
        IllegalArgumentException corpus = assertThrows(IllegalArgumentException.class, () -> Corpus.read(spark, "/no/such/corpus"));
        assertTrue(corpus.getMessage().contains("/no/such/corpus"), corpus.getMessage());
    }
}
