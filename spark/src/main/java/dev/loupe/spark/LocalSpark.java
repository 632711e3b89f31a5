package dev.loupe.spark;

import org.apache.spark.sql.SparkSession;

/**
 * A Spark session for Loupe's jobs: {@code local[*]} (every core of this machine, in this JVM) unless a master is
 * given. A notebook cell starts one with {@code var spark = LocalSpark.start();}.
 */
public final class LocalSpark {

    private LocalSpark() {}

    /** Spark in this JVM on every core. */
    public static SparkSession start() {
        return start("local[*]");
    }

    /** A session on {@code master}: {@code local[N]}, or a cluster's URL ({@code spark://host:7077}, {@code yarn}). */
    public static SparkSession start(String master) {
        // Spark warns, at every start, that this machine's name resolves to a loopback address and that Hadoop has no
        // native library; neither matters to a job here. (Loupe logs through slf4j-simple at WARN.)
        quiet("org.apache.spark.util.Utils");
        quiet("org.apache.hadoop.util.NativeCodeLoader");
        return SparkSession.builder().appName("loupe").master(master)
                // No web UI: nothing here reads it, and its port clashes when several sessions run on one machine.
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .getOrCreate();
    }

    private static void quiet(String logger) {
        String key = "org.slf4j.simpleLogger.log." + logger;
        if (System.getProperty(key) == null) {
            System.setProperty(key, "error");
        }
    }
}
