package io.dense4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Tensor;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The training session and the forward pass are public (a distributed trainer drives them itself), and native code
 * gets pointers, not lengths: every argument that sizes a native read or write is refused with an exception before
 * the native call, never read past an array's end (a JVM crash). A model closed by a callback, or while another
 * thread predicts, fails the calls that follow; it never frees what a call still reads.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SessionBoundaryTest {
    static Dataset data(int n, int width, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * width];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(3);
            for (int j = 0; j < width; j++) {
                x[i * width + j] = (float) r.nextGaussian();
            }
        }
        return Dataset.of(Tensor.of(x, n, width), Tensor.ofInts(y, n));
    }

    static Sequential model() {
        Sequential m = Sequential.of(Dense.of(6, 16, Activation.RELU), Dense.of(3, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY);
        m.initialize(1);
        return m;
    }

    @Test
    void everySessionArgumentIsCheckedBeforeNativeCode() {
        try (Dataset train = data(100, 6, 1); Dataset narrow = data(10, 5, 2); Sequential m = model()) {
            TrainingTarget target = m.trainingTarget();
            float[] before = m.parameters();
            assertThrows(IllegalArgumentException.class, () -> target.startTraining(narrow, 10, 8), "5 features");
            assertThrows(IllegalArgumentException.class, () -> target.startTraining(train, 101, 8), "nTrain > rows");
            assertThrows(IllegalArgumentException.class, () -> target.startTraining(train, 0, 8), "nTrain 0");
            assertThrows(IllegalArgumentException.class, () -> target.startTraining(train, 100, 0), "batch 0");
            try (TrainingSession run = target.startTraining(train, 80, 8)) {
                float[] lrs = {1e-3f, 1e-3f, 1e-3f};
                assertThrows(IllegalStateException.class, () -> run.train(0, 8, 1, lrs, 1), "no order set");
                assertThrows(IllegalArgumentException.class, () -> run.order(new int[79]), "order too short");
                int[] past = DataChecks.range(0, 80);
                past[5] = 100;
                assertThrows(IllegalArgumentException.class, () -> run.order(past), "a row past the data");
                past[5] = -1;
                assertThrows(IllegalArgumentException.class, () -> run.order(past), "a negative row");
                run.order(DataChecks.range(0, 80));
                assertThrows(IllegalArgumentException.class, () -> run.train(0, 8, -1, new float[0], 1), "steps < 0");
                assertThrows(IllegalArgumentException.class, () -> run.train(0, 8, 4, lrs, 1), "3 rates for 4 steps");
                assertThrows(IllegalArgumentException.class, () -> run.train(0, 9, 1, lrs, 1), "batch > the session's");
                assertThrows(IllegalArgumentException.class, () -> run.train(-1, 8, 1, lrs, 1), "first < 0");
                assertThrows(IllegalArgumentException.class, () -> run.train(80, 8, 1, lrs, 1), "first == nTrain");
                assertThrows(IllegalArgumentException.class, () -> run.train(Long.MAX_VALUE - 5, 8, 2, lrs, 1),
                        "first near 2^63 (the native sum wrapped)");
                assertThrows(IllegalArgumentException.class, () -> run.train(72, 8, 2, lrs, 1), "past the order");
                assertThrows(IllegalArgumentException.class, () -> run.evaluate(train, 90, 11), "past the rows");
                assertThrows(IllegalArgumentException.class, () -> run.evaluate(train, -1, 2), "first < 0");
                assertThrows(IllegalArgumentException.class, () -> run.evaluate(narrow, 0, 2), "5 features");
                assertArrayEquals(before, m.parameters(), "nothing was trained by a refused call");
                // the edges themselves are fine: the last full batch, and a partial one
                assertEquals(16.0, run.train(64, 8, 2, lrs, 1).rows());
                assertEquals(2.0, run.train(78, 8, 1, lrs, 1).rows());
                assertEquals(10.0, run.evaluate(train, 90, 10).rows());
            }
            try (Tensor small = Tensor.zeros(99, 3); Tensor wide = Tensor.zeros(100, 4); Tensor right = Tensor.zeros(100, 3)) {
                assertThrows(IllegalArgumentException.class, () -> target.forward(train, small), "99 output rows");
                assertThrows(IllegalArgumentException.class, () -> target.forward(train, wide), "4 output columns");
                assertEquals(100.0, target.forward(train, right).rows());
            }
        }
    }

    @Test
    void aModelClosedByItsOwnCallbackFailsTheFitNotTheJvm() {
        try (Dataset train = data(200, 6, 3)) {
            Sequential m = model();
            Callback closer = new Callback() {
                @Override
                public void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {
                    m.close();
                }

                @Override
                public int maxStepsPerCall() {
                    return 2;
                }
            };
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> m.fit(train, Fit.epochs(3).batchSize(8).callbacks(closer)));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> m.predict(new float[6]));
        }
    }

    @Test
    void closeWaitsForPredictsInFlightAndLaterOnesFail() throws Exception {
        for (int round = 0; round < 20; round++) {
            Sequential m = model();
            float[] row = new float[6];
            float[] expected = m.predict(row);
            int threads = 3;
            CountDownLatch started = new CountDownLatch(threads);
            AtomicInteger done = new AtomicInteger();
            AtomicReference<Throwable> wrong = new AtomicReference<>();
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                ts[t] = new Thread(() -> {
                    started.countDown();
                    try {
                        for (int i = 0; i < 100_000; i++) {
                            float[] p = m.predict(row);
                            if (!java.util.Arrays.equals(expected, p)) {
                                wrong.compareAndSet(null, new AssertionError("a predict read freed memory"));
                                return;
                            }
                            done.incrementAndGet();
                        }
                    } catch (IllegalStateException closed) {
                        // the model was closed: the calls after it fail
                    } catch (Throwable other) {
                        wrong.compareAndSet(null, other);
                    }
                });
                ts[t].start();
            }
            started.await();
            while (done.get() < 50) {
                Thread.onSpinWait();
            }
            m.close();
            for (Thread t : ts) {
                t.join();
            }
            if (wrong.get() != null) {
                throw new AssertionError("round " + round, wrong.get());
            }
        }
    }
}
