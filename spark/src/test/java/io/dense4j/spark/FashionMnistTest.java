package io.dense4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.util.stream.IntStream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The reference network on a Fashion-MNIST subset: Spark local[2] against a single-process fit. */
class FashionMnistTest {
    static final int TRAIN_ROWS = Integer.getInteger("fashion.rows", 12000);
    static final int EPOCHS = Integer.getInteger("fashion.epochs", 3);
    static SparkSession spark;

    @BeforeAll
    static void start() {
        assumeTrue(LocalSpark.hasFashion(), "Fashion-MNIST is not in " + LocalSpark.FASHION
                + " (install the dataset-fashion-mnist package): skipped");
        spark = LocalSpark.session();
    }

    static Sequential reference() {
        Sequential m = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    /**
     * Data-parallel training (2 workers, H = 16) on the first rows of the training split reaches the single-process
     * fit's test accuracy within 1 point, with the same epochs, batch and seed.
     */
    @Test
    void sparkReachesSingleProcessAccuracyWithinOnePoint() throws Exception {
        try (Dataset all = LocalSpark.fashion("train"); Dataset testAll = LocalSpark.fashion("t10k");
             Dataset train = all.subset(IntStream.range(0, TRAIN_ROWS).toArray());
             Dataset test = testAll.subset(IntStream.range(0, 2000).toArray());
             Sequential single = reference(); Sequential distributed = reference()) {
            Fit fit = Fit.epochs(EPOCHS).batchSize(32).seed(42);
            long t0 = System.nanoTime();
            single.fit(train, fit);
            double singleSeconds = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            History h = SparkTrainer.builder().averagingFrequency(16).workers(2).build()
                    .fit(distributed, LocalSpark.frame(train), fit);
            double sparkSeconds = (System.nanoTime() - t0) / 1e9;
            double a1 = single.evaluate(test).accuracy();
            double a2 = distributed.evaluate(test).accuracy();
            System.out.printf("Fashion-MNIST %d rows, %d epochs: single-process %.4f (%.1fs), Spark local[2] H=16 %.4f "
                    + "(%.1fs, loss per epoch %s)%n", TRAIN_ROWS, EPOCHS, a1, singleSeconds, a2, sparkSeconds,
                    h.asMap().get("loss"));
            assertTrue(a2 >= a1 - 0.01, "Spark " + a2 + " vs single-process " + a1);
            assertEquals(EPOCHS, h.epochs().size());
        }
    }

    /** IDX files read by each partition give the same shards, hence the same model, as a DataFrame of their rows. */
    @Test
    void idxFilesReadPerPartitionTrainAsTheirDataFrame() throws Exception {
        Fit fit = Fit.epochs(1).batchSize(32).seed(7).stepsPerEpoch(24);
        SparkTrainer t = SparkTrainer.builder().averagingFrequency(8).workers(2).build();
        try (Dataset test = LocalSpark.fashion("t10k"); Sequential fromFiles = reference(); Sequential fromFrame = reference()) {
            t.fit(fromFiles, SparkData.idx(spark, LocalSpark.FASHION, "t10k"), fit);
            t.fit(fromFrame, LocalSpark.frame(test), fit);
            assertArrayEquals(fromFrame.parameters(), fromFiles.parameters());
            assertEquals(24, fromFiles.optimizerStep());
        }
    }
}
