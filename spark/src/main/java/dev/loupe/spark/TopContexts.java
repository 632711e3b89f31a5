package dev.loupe.spark;

import dev.loupe.sae.FeatureStats;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.List;

import tech.tablesaw.api.Table;

/**
 * Max-activating results as Parquet, through Spark's writer (so an output on a cluster's file system works as a local
 * one): {@code OUT/top_contexts} (a row per unit and rank, the columns of {@link FeatureStats#toTable()}) and
 * {@code OUT/units} (a row per unit: name, firings, density, largest activation). Both are small: units × k rows.
 */
public final class TopContexts {

    private TopContexts() {}

    public static void write(SparkSession spark, FeatureStats stats, String out) {
        Table table = stats.toTable();
        StructType contexts = new StructType()
                .add("unit", DataTypes.IntegerType, false).add("name", DataTypes.StringType, false)
                .add("rank", DataTypes.IntegerType, false).add("activation", DataTypes.DoubleType, false)
                .add("window", DataTypes.IntegerType, false).add("position", DataTypes.IntegerType, false)
                .add("token", DataTypes.StringType, false).add("context", DataTypes.StringType, false);
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < table.rowCount(); r++) {
            Object[] values = new Object[table.columnCount()];
            for (int c = 0; c < values.length; c++) {
                values[c] = table.column(c).get(r);
            }
            rows.add(RowFactory.create(values));
        }
        spark.createDataFrame(rows, contexts).coalesce(1).write().mode(SaveMode.ErrorIfExists).parquet(out + "/top_contexts");

        StructType units = new StructType()
                .add("unit", DataTypes.IntegerType, false).add("name", DataTypes.StringType, false)
                .add("firings", DataTypes.LongType, false).add("density", DataTypes.DoubleType, false)
                .add("max", DataTypes.DoubleType, false);
        List<Row> summary = new ArrayList<>();
        for (int u = 0; u < stats.dSae(); u++) {
            summary.add(RowFactory.create(u, stats.units().name(u), stats.firings(u), stats.density(u), stats.max(u)));
        }
        spark.createDataFrame(summary, units).coalesce(1).write().mode(SaveMode.ErrorIfExists).parquet(out + "/units");
    }
}
