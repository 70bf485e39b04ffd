package io.dense4j.spark;

import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The tests' Spark: local, 2 threads, a failed task retried up to 4 times; no UI, no network beyond loopback.
 * Data, results and broadcasts go through Kryo, the serializer clusters usually choose and the stricter one (it
 * cannot build records, for one); closures go through Java serialization, as always. Spark's default, Java
 * serialization throughout, is what SparkBench runs under.
 */
final class LocalSpark {
    static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");

    private LocalSpark() {}

    static synchronized SparkSession session() {
        return SparkSession.builder().master("local[2,4]").appName("dense4j-spark-tests")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                .getOrCreate();
    }

    static boolean hasFashion() {
        return Files.isDirectory(FASHION) && Mnist.hasSplit(FASHION, Mnist.TRAIN) && Mnist.hasSplit(FASHION, Mnist.TEST);
    }

    static Dataset fashion(String split) throws IOException {
        return Mnist.loadSplit(FASHION, split);
    }

    /** A DataFrame (features array&lt;float&gt;, label int) of the data set's rows, in order. */
    static org.apache.spark.sql.Dataset<Row> frame(Dataset d) {
        return frameIn(session(), d);
    }

    static org.apache.spark.sql.Dataset<Row> frameIn(SparkSession spark, Dataset d) {
        StructType schema = new StructType()
                .add("features", DataTypes.createArrayType(DataTypes.FloatType, false), false)
                .add("label", DataTypes.IntegerType, false);
        int[] labels = d.labels().toIntArray();
        float[] x = d.features().toFloatArray();
        int w = d.numFeatures();
        List<Row> rows = new ArrayList<>(d.size());
        for (int i = 0; i < d.size(); i++) {
            rows.add(RowFactory.create(java.util.Arrays.copyOfRange(x, i * w, (i + 1) * w), labels[i]));
        }
        return spark.createDataFrame(rows, schema);
    }
}
