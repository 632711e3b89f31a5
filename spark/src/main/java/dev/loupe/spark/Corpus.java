package dev.loupe.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A corpus of documents as Spark reads it: text files (each file one document; a folder of them) or Parquet (a string
 * column, {@code text} by default, each row one document). A {@code Dataset<String>} made any other way serves too.
 */
public final class Corpus {

    public static final String TEXT_COLUMN = "text";

    private Corpus() {}

    /** The documents at {@code path}: Parquet if it ends in .parquet (a file or Spark's folder of parts), else text. */
    public static Dataset<String> read(SparkSession spark, String path) {
        return read(spark, path, TEXT_COLUMN);
    }

    /** The same, Parquet's documents in column {@code column}. */
    public static Dataset<String> read(SparkSession spark, String path, String column) {
        boolean local = !path.matches("^[a-zA-Z][a-zA-Z0-9+.-]+://.*");
        if (local && !Files.exists(Path.of(path))) {
            throw new IllegalArgumentException("The corpus " + path + " does not exist; give a text file, a folder of text files,"
                    + " or Parquet (a .parquet file or folder) with a '" + column + "' column");
        }
        if (!path.endsWith(".parquet")) {
            return spark.read().option("wholetext", true).textFile(path);
        }
        Dataset<org.apache.spark.sql.Row> rows = spark.read().parquet(path);
        if (!Arrays.asList(rows.columns()).contains(column)) {
            throw new IllegalArgumentException("The Parquet corpus " + path + " has columns " + Arrays.toString(rows.columns())
                    + ", no '" + column + "' column of documents; name the column that holds them");
        }
        return rows.select(column).na().drop().as(Encoders.STRING()); // a null document is no document
    }
}
