package dev.loupe.spark;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LocalSparkTest {

    @Test
    void aLocalSessionRunsAJobOnTwoCores() {
        SparkSession spark = LocalSpark.start("local[2]");
        long sum = new org.apache.spark.api.java.JavaSparkContext(spark.sparkContext())
                .parallelize(List.of(1, 2, 3, 4, 5, 6), 3).map(x -> (long) x * x).reduce(Long::sum);
        assertEquals(91, sum);
        spark.stop();
    }
}
