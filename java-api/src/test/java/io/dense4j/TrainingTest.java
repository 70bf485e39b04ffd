package io.dense4j;

import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.data.Normalizer;
import io.dense4j.io.ModelFormatException;
import io.dense4j.layers.Activation;
import io.dense4j.nativelib.CpuKernels;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.CrossValidation;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import io.dense4j.train.NonFiniteLossException;
import io.dense4j.train.ModelCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.bytedeco.javacpp.LongPointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End-to-end behaviour of the training API on real Fashion-MNIST rows and on small synthetic data. */
class TrainingTest {
    static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");
    static Dataset train;
    static Dataset test;

    @BeforeAll
    static void loadSubset() throws IOException {
        assertTrue(Files.isDirectory(FASHION), "Fashion-MNIST must be installed (apt-get install dataset-fashion-mnist)");
        try (Mnist.Data all = Mnist.load(FASHION)) {
            train = all.train().take(6000);
            test = all.test().take(2000);
        }
    }

    @AfterAll
    static void free() {
        train.close();
        test.close();
    }

    static Sequential reference() {
        Sequential m = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY, Metrics.topK(3));
        return m;
    }

    @Test
    void referenceNetworkLearnsFashionMnistSubset() {
        try (Sequential m = reference()) {
            History h = m.fit(train, Fit.epochs(3).batchSize(32).validationSplit(0.1).seed(42));
            assertEquals(3, h.epochs().size());
            assertTrue(h.last().loss() < h.epochs().get(0).loss(), "training loss must fall");
            assertTrue(h.last().hasValidation());
            Evaluation e = m.evaluate(test);
            // chance is 10%; this small run reaches ~80%
            assertTrue(e.accuracy() > 0.70, "test accuracy " + e.accuracy());
            assertTrue(e.topKAccuracy(3) >= e.accuracy());
            int[][] cm = e.confusionMatrix();
            assertEquals(2000, Arrays.stream(cm).flatMapToInt(Arrays::stream).sum());
            long diag = 0;
            for (int c = 0; c < 10; c++) {
                diag += cm[c][c];
            }
            assertEquals(e.accuracy(), diag / 2000.0, 1e-9, "accuracy must equal the confusion-matrix diagonal");
            for (int c = 0; c < 10; c++) {
                assertTrue(e.f1(c) >= 0 && e.f1(c) <= 1);
            }
        }
    }

    @Test
    void sameSeedGivesBitIdenticalWeightsAndDifferentSeedDoesNot() {
        Fit fit = Fit.epochs(1).batchSize(32).seed(7);
        try (Sequential a = reference(); Sequential b = reference(); Sequential c = reference()) {
            a.fit(train.take(2000), fit);
            b.fit(train.take(2000), fit);
            c.fit(train.take(2000), fit.seed(8));
            assertArrayEquals(a.parameters(), b.parameters());
            assertFalse(Arrays.equals(a.parameters(), c.parameters()));
        }
    }

    /**
     * Per thread count, training is deterministic (two runs, same bits), and 2 threads train the same model as 1
     * within float tolerance (the kernels never split a sum, so in fact with the same bits; the tolerance is
     * what the issue asks for). The reference network at batch 32 is split across threads (split.h).
     */
    @Test
    void trainingIsDeterministicPerThreadCountAndTwoThreadsMatchOne() {
        Fit fit = Fit.epochs(1).batchSize(32).seed(11);
        int saved = Dense4J.threads();
        try (Sequential one = reference(); Sequential twoA = reference(); Sequential twoB = reference();
             Dataset rows = train.take(2000);
             LongPointer before = new LongPointer(6); LongPointer after = new LongPointer(6)) {
            Dense4J.setThreads(1);
            one.fit(rows, fit);
            Dense4J.setThreads(2);
            CpuKernels.d4j_thread_stats(before);
            twoA.fit(rows, fit);
            twoB.fit(rows, fit);
            CpuKernels.d4j_thread_stats(after);
            if (Runtime.getRuntime().availableProcessors() >= 2) {
                assertTrue(after.get(0) + after.get(1) > before.get(0) + before.get(1),
                        "no region was offered to the pool at 2 threads: the test would prove nothing");
            }
            assertArrayEquals(twoA.parameters(), twoB.parameters(), "2 threads: two identical runs differ");
            float[] p1 = one.parameters();
            float[] p2 = twoA.parameters();
            assertEquals(p1.length, p2.length);
            double num = 0;
            double den = 0;
            double worst = 0;
            for (int i = 0; i < p1.length; i++) {
                double d = (double) p2[i] - p1[i];
                num += d * d;
                den += (double) p1[i] * p1[i];
                worst = Math.max(worst, Math.abs(d));
            }
            assertTrue(Math.sqrt(num / den) <= 1e-6 && worst <= 1e-5,
                    "2 threads vs 1: relative L2 " + Math.sqrt(num / den) + ", max abs " + worst);
        } finally {
            Dense4J.setThreads(saved);
        }
    }

    @Test
    void saveLoadRoundTripGivesIdenticalPredictions(@TempDir Path dir) {
        Path file = dir.resolve("models/fashion.d4j");
        try (Sequential m = reference()) {
            m.classNames(Mnist.FASHION_CLASS_NAMES);
            m.fit(train.take(1000), Fit.epochs(1).seed(1));
            m.save(file);
            float[][] rows = new float[5][];
            for (int i = 0; i < 5; i++) {
                rows[i] = test.features().row(i);
            }
            try (Model same = Model.load(file)) {
                assertEquals(784, same.inputSize());
                assertEquals(10, same.outputSize());
                assertEquals(Mnist.FASHION_CLASS_NAMES, same.classNames());
                float[][] p1 = m.predict(rows);
                float[][] p2 = same.predict(rows);
                for (int i = 0; i < 5; i++) {
                    assertArrayEquals(p1[i], p2[i], 0f, "row " + i);
                }
                assertArrayEquals(m.parameters(), ((Sequential) same).parameters());
                assertEquals(m.optimizerStep(), ((Sequential) same).optimizerStep());
            }
        }
    }

    @Test
    void corruptTruncatedAndForeignFilesFailClearly(@TempDir Path dir) throws IOException {
        Path good = dir.resolve("good.d4j");
        try (Sequential m = reference()) {
            m.save(good);
        }
        byte[] bytes = Files.readAllBytes(good);
        Path truncated = dir.resolve("truncated.d4j");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 100));
        Path garbage = dir.resolve("garbage.d4j");
        Files.write(garbage, "this is not a model".getBytes());
        Path missing = dir.resolve("missing.d4j");
        for (Path p : new Path[] {truncated, garbage, missing}) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(p));
            assertTrue(e.getMessage().contains(p.getFileName().toString()), "message names the file: " + e.getMessage());
        }
    }

    @Test
    void failedSaveLeavesPreviousFileIntact(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("m.d4j");
        try (Sequential m = reference()) {
            m.save(file);
            byte[] before = Files.readAllBytes(file);
            Path blocked = dir.resolve("ro");
            Files.createDirectories(blocked);
            // a target that is a non-empty directory cannot be replaced: the save must fail and change nothing
            Files.writeString(blocked.resolve("x"), "x");
            assertThrows(RuntimeException.class, () -> m.save(blocked));
            assertArrayEquals(before, Files.readAllBytes(file));
            try (var files = Files.list(dir)) {
                assertEquals(2, files.count(), "no temp file left behind");
            }
        }
    }

    @Test
    void earlyStoppingRestoresBestWeightsAndCheckpointWritesEachEpoch(@TempDir Path dir) {
        try (Sequential m = Sequential.of(Dense.of(784, 32, Activation.RELU), Dense.of(10, Activation.SOFTMAX))) {
            // a learning rate this high makes validation loss rise quickly
            m.compile(Optimizers.sgd(3.0), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            EarlyStopping stop = EarlyStopping.onValLoss(1, true);
            ModelCheckpoint ckpt = ModelCheckpoint.everyEpoch(dir.resolve("ckpt-{epoch}.d4j").toString());
            try {
                History h = m.fit(train.take(2000), Fit.epochs(20).validationSplit(0.2).seed(3).callbacks(stop, ckpt));
                assertTrue(h.epochs().size() <= 20);
                for (int e = 0; e < h.epochs().size(); e++) {
                    assertTrue(Files.exists(dir.resolve("ckpt-" + (e + 1) + ".d4j")));
                }
                if (h.stoppedEarly()) {
                    try (Model best = Model.load(dir.resolve("ckpt-" + (stop.bestEpoch() + 1) + ".d4j"))) {
                        assertArrayEquals(((Sequential) best).parameters(), m.parameters(),
                                "restore-best must leave the best epoch's weights");
                    }
                }
            } catch (NonFiniteLossException e) {
                // also an acceptable, clearly reported outcome of lr = 3
                assertTrue(e.getMessage().contains("NaN"));
            }
        }
    }

    @Test
    void nonFiniteLossStopsTrainingWithAClearError() {
        try (Sequential m = Sequential.of(Dense.of(784, 16, Activation.RELU), Dense.of(10, Activation.SOFTMAX))) {
            m.compile(Optimizers.sgd(1e30), Losses.SPARSE_CATEGORICAL_CROSSENTROPY);
            NonFiniteLossException e = assertThrows(NonFiniteLossException.class,
                    () -> m.fit(train.take(500), Fit.epochs(3).seed(1)));
            assertTrue(e.getMessage().contains("NaN or infinite"));
            for (float p : m.parameters()) {
                assertTrue(Float.isFinite(p), "the update that produced a non-finite loss must not be applied");
            }
        }
    }

    @Test
    void badInputsAreRejectedWithMessages() {
        try (Sequential m = reference()) {
            IllegalArgumentException wrongWidth = assertThrows(IllegalArgumentException.class,
                    () -> m.predict(new float[10]));
            assertTrue(wrongWidth.getMessage().contains("784"));
            float[] nan = new float[784];
            nan[3] = Float.NaN;
            assertTrue(assertThrows(IllegalArgumentException.class, () -> m.predict(nan)).getMessage().contains("NaN"));
            try (Dataset narrow = Dataset.of(Tensor.zeros(4, 3), Tensor.ofInts(new int[] {0, 1, 2, 3}, 4))) {
                assertThrows(IllegalArgumentException.class, () -> m.fit(narrow, Fit.epochs(1)));
            }
            float[] x = new float[4 * 784];
            try (Dataset badLabel = Dataset.of(Tensor.of(x, 4, 784), Tensor.ofInts(new int[] {0, 1, 2, 9}, 4))) {
                m.fit(badLabel, Fit.epochs(1)); // label 9 of 10 classes is fine
            }
            x[5] = Float.POSITIVE_INFINITY;
            try (Dataset inf = Dataset.of(Tensor.of(x, 4, 784), Tensor.ofInts(new int[] {0, 1, 2, 3}, 4))) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.fit(inf, Fit.epochs(1)));
                assertTrue(e.getMessage().contains("row 0, column 5"), e.getMessage());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Sequential.of(Dense.of(4, 3, Activation.RELU))
                .compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY));
    }

    @Test
    void partialLastBatchDropoutSchedulesAndStandardizationTrain(@TempDir Path dir) {
        Random r = new Random(11);
        int n = 1001; // 1001 = 31 * 32 + 9: a partial last batch
        float[] x = new float[n * 5];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < 5; j++) {
                x[i * 5 + j] = (float) (r.nextGaussian() * 10 + 50); // far from standardized
                s += (x[i * 5 + j] - 50) * (j % 2 == 0 ? 1 : -1);
            }
            y[i] = s > 0 ? 1 : 0;
        }
        try (Dataset d = Dataset.of(Tensor.of(x, n, 5), Tensor.ofInts(y, n));
             Sequential m = Sequential.of(Dense.of(5, 33, Activation.TANH), Dropout.of(0.1), Dense.of(2, Activation.SOFTMAX))) {
            m.compile(Optimizers.adamw(1e-2).withSchedule(LearningRateSchedule.cosine(1e-2, 32 * 8))
                    .withClipNorm(1.0), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            m.preprocessing(Normalizer.standardize());
            History h = m.fit(d, Fit.epochs(8).batchSize(32).seed(5));
            assertEquals(n, ((Number) m.trainingInfo().get("training_rows")).intValue());
            try (Sequential held = Sequential.of(Dense.of(5, 2, Activation.SOFTMAX))) {
                held.compile(Optimizers.adam(1e-2), Losses.SPARSE_CATEGORICAL_CROSSENTROPY);
                held.fit(d, Fit.epochs(1).batchSize(32).validationSplit(0.25).seed(5));
                assertEquals(n - Math.round(n * 0.25), ((Number) held.trainingInfo().get("training_rows")).intValue(),
                        "the rows it trained on, not the validation split's");
            }
            assertTrue(h.last().accuracy() > 0.9, "a linearly separable problem: accuracy " + h.last().accuracy());
            assertTrue(h.last().learningRate() < 1e-2, "cosine schedule must have decayed the rate");
            assertEquals(50f, x[0], 40f, "fit must not normalize the caller's data in place");
            // the fitted standardization travels with the model: raw rows give the same outputs after a reload
            Path file = dir.resolve("standardized.d4j");
            m.save(file);
            float[][] raw = {java.util.Arrays.copyOfRange(x, 0, 5), java.util.Arrays.copyOfRange(x, 5, 10)};
            try (Model loaded = Model.load(file)) {
                float[][] a = m.predict(raw);
                float[][] b = loaded.predict(raw);
                for (int i = 0; i < a.length; i++) {
                    assertArrayEquals(a[i], b[i], 0f);
                }
                assertNotNull(((Sequential) loaded).preprocessing(), "the normalizer is saved with the model");
            }
        }
    }

    @Test
    void recompilingWithAnotherLossChangesWhatEvaluateComputes() {
        try (Sequential m = reference(); Dataset sub = test.take(300); Dataset oneHot = sub.oneHot()) {
            m.fit(train.take(1000), Fit.epochs(1).seed(4));
            double sparse = m.evaluate(sub).loss();
            m.compile(Optimizers.adam(1e-3), Losses.CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            assertEquals(sparse, m.evaluate(oneHot).loss(), 1e-6, "one-hot CCE equals sparse CCE on the same rows");
            m.compile(Optimizers.adam(1e-3), Losses.MEAN_SQUARED_ERROR);
            double mse = m.evaluate(oneHot).loss();
            assertTrue(mse > 0 && mse < 0.2, "MSE of probabilities against one-hot targets: " + mse);
        }
    }

    @Test
    void crossValidationReportsEveryFold() {
        CrossValidation.Report rep = CrossValidation.kFold(3, TrainingTest::reference, train.take(900),
                Fit.epochs(1).seed(2), 9);
        assertEquals(3, rep.folds().size());
        assertEquals(900, rep.folds().stream().mapToInt(CrossValidation.FoldResult::testRows).sum());
        assertTrue(rep.meanAccuracy() > 0.3, "mean accuracy " + rep.meanAccuracy());
        assertTrue(rep.stdAccuracy() >= 0);
        assertTrue(rep.toString().contains("±"));
    }
}
