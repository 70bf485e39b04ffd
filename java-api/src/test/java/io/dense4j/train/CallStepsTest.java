package io.dense4j.train;

import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * How a fit cuts its steps into backend calls (Trainer.nextCallSteps): the first call runs STEPS_PER_CALL steps, later
 * ones grow while fast and shrink while slow; and the trained weights do not depend on the cut, at 1 and 2 threads,
 * for a network of the CPU engine's column shape (its 2-thread calls load and store the first layer's panels at every
 * call's start and end, and run their steps in runs of 16).
 */
class CallStepsTest {
    @Test
    void callsGrowWhileFastAndShrinkWhileSlowWithinTheirBounds() {
        int max = Trainer.MAX_STEPS_PER_CALL;
        assertEquals(128, Trainer.nextCallSteps(64, 64, 1_000_000L, max), "a fast full call doubles");
        assertEquals(max, Trainer.nextCallSteps(max, max, 1_000L, max), "never above the maximum");
        assertEquals(64, Trainer.nextCallSteps(64, 64, 1_000L, 64), "never above the callbacks' bound");
        assertEquals(512, Trainer.nextCallSteps(512, 512, 20_000_000L, max), "between 10 and 50 ms: kept");
        assertEquals(64, Trainer.nextCallSteps(64, 30, 1_000L, max), "a partial (last) call says nothing of the size");
        assertEquals(256, Trainer.nextCallSteps(512, 512, 80_000_000L, max), "a slow call halves");
        assertEquals(Trainer.STEPS_PER_CALL, Trainer.nextCallSteps(Trainer.STEPS_PER_CALL, Trainer.STEPS_PER_CALL,
                900_000_000L, max), "never below the first call's size");
    }

    @Test
    void progressIsReportedAfterEveryCallAndTheFirstCallIsTheFirstSize() {
        List<Integer> done = progressOfOneEpoch(0);
        assertEquals(Trainer.STEPS_PER_CALL, done.get(0));
        assertEquals(500, done.get(done.size() - 1));
        for (int i = 1; i < done.size(); i++) {
            int call = done.get(i) - done.get(i - 1);
            assertTrue(call > 0 && call <= Trainer.MAX_STEPS_PER_CALL, "call of " + call + " steps: " + done);
        }
    }

    @Test
    void aCallbackBoundsTheCalls() {
        List<Integer> done = progressOfOneEpoch(16);
        assertEquals(32, done.size(), "500 steps in calls of 16: " + done);
        assertEquals(16, done.get(0));
        assertEquals(500, done.get(done.size() - 1));
    }

    /** The stepsDone of every progress report of a one-epoch fit of 500 steps, its callback bounding the calls. */
    private static List<Integer> progressOfOneEpoch(int maxStepsPerCall) {
        try (Dataset data = data(4000, 512, 10); Sequential m = model()) {
            List<Integer> done = new ArrayList<>();
            Callback progress = new Callback() {
                @Override
                public void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {
                    done.add(stepsDone);
                }

                @Override
                public int maxStepsPerCall() {
                    return maxStepsPerCall;
                }
            };
            m.fit(data, Fit.epochs(1).batchSize(8).seed(3).callbacks(progress));
            return done;
        }
    }

    @Test
    void theWeightsDoNotDependOnHowTheStepsAreCutIntoCalls() {
        int saved = Dense4J.threads();
        try (Dataset data = data(1000, 512, 10)) {
            for (int threads : new int[] {1, 2}) {
                Dense4J.setThreads(threads);
                float[] one = trainInCalls(data, new int[] {125});              // one call of every step
                float[] sixtyFour = trainInCalls(data, new int[] {64, 61});
                float[] mixed = trainInCalls(data, new int[] {1, 16, 17, 33, 58});
                assertArrayEquals(one, sixtyFour, threads + " threads: 125 steps as 64 + 61");
                assertArrayEquals(one, mixed, threads + " threads: 125 steps in five uneven calls");
            }
        } finally {
            Dense4J.setThreads(saved);
        }
    }

    /** Trains a fresh model (same initial weights) for the calls' steps over the rows in order, batch 8. */
    private static float[] trainInCalls(Dataset data, int[] calls) {
        try (Sequential m = model()) {
            TrainingTarget t = m.trainingTarget();
            t.initializeIfNeeded(11);
            int rows = data.size(), batch = 8;
            try (TrainingSession run = t.startTraining(data, rows, batch)) {
                int[] order = new int[rows];
                for (int i = 0; i < rows; i++) {
                    order[i] = (int) ((i * 7919L) % rows);
                }
                run.order(order);
                int step = 0;
                for (int c : calls) {
                    float[] lrs = new float[c];
                    java.util.Arrays.fill(lrs, 1e-3f);
                    run.train((long) step * batch, batch, c, lrs, 99);
                    step += c;
                }
            }
            return m.parameters();
        }
    }

    /** A network of the CPU engine's column shape: a tall first layer (512 inputs, 4x its 128 units), 10 outputs. */
    private static Sequential model() {
        Sequential m = Sequential.of(Dense.of(512, 128, Activation.RELU), Dense.of(10, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    private static Dataset data(int n, int in, int classes) {
        Random r = new Random(17);
        float[] x = new float[n * in];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(classes);
            for (int j = 0; j < in; j++) {
                x[i * in + j] = r.nextFloat() < 0.4f ? 0f : (float) (r.nextGaussian() + (j % classes == y[i] ? 1 : 0));
            }
        }
        return Dataset.of(Tensor.of(x, n, in), Tensor.ofInts(y, n));
    }
}
