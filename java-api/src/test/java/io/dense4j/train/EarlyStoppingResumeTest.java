package io.dense4j.train;

import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fit interrupted inside early stopping's patience window and resumed from a checkpoint plus the callback's
 * {@link EarlyStopping#state()} stops at the same epoch, with the same weights, as the fit that was never interrupted.
 */
class EarlyStoppingResumeTest {
    static final int EPOCHS = 40;

    /** Noisy overlapping clusters: validation loss soon stops improving and wobbles. */
    static Dataset noisy() {
        SplittableRandom rng = new SplittableRandom(11);
        int rows = 300;
        int features = 6;
        float[][] x = new float[rows][features];
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = r % 3;
            for (int j = 0; j < features; j++) {
                x[r][j] = (float) ((j % 3 == y[r] ? 1.0 : 0.0) + 1.5 * rng.nextGaussian());
            }
        }
        return Dataset.of(x, y, 3, List.of());
    }

    static Sequential model() {
        Sequential m = Sequential.of(Dense.of(6, 32, Activation.RELU), Dense.of(3, Activation.SOFTMAX));
        m.compile(Optimizers.adam(0.02), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    static Fit fit(EarlyStopping stop, Callback... more) {
        return Fit.epochs(EPOCHS).batchSize(16).validationSplit(0.25).seed(5).callbacks(stop).callbacks(more);
    }

    /** Records early stopping's patience count after each epoch (it runs after the callback it watches). */
    static final class Waits implements Callback {
        final EarlyStopping stop;
        final List<Integer> waits = new ArrayList<>();

        Waits(EarlyStopping stop) {
            this.stop = stop;
        }

        @Override
        public boolean onEpochEnd(TrainableModel model, EpochLog log) {
            waits.add(stop.epochsWithoutImprovement());
            return false;
        }
    }

    /** The "kill": after epoch {@code at} (0-based) ends, the checkpoint is written and the process dies. */
    static final class Killed extends RuntimeException {}

    @Test
    void aFitResumedInsideThePatienceWindowStopsWhereTheUninterruptedOneDid(@TempDir Path dir) {
        try (Dataset data = noisy()) {
            float[] straightWeights;
            History straight;
            Waits waits;
            int bestEpoch;
            try (Sequential m = model()) {
                EarlyStopping stop = new EarlyStopping("val_loss", 3, 0, true);
                waits = new Waits(stop);
                straight = m.fit(data, fit(stop, waits));
                straightWeights = m.parameters();
                bestEpoch = stop.bestEpoch();
            }
            assertTrue(straight.stoppedEarly(), "the reference fit must stop early: " + waits.waits);
            // the last epoch inside a patience window whose best epoch came before it: the state carries a count,
            // a best value and best weights that a fresh start would lose
            int kill = -1;
            for (int e = 0; e < waits.waits.size() - 1; e++) {
                if (waits.waits.get(e) > 0 && e > bestEpoch - 1 && e - waits.waits.get(e) == bestEpoch) {
                    kill = e;
                    break;
                }
            }
            assertTrue(kill >= 0, "no epoch inside the final patience window: " + waits.waits + ", best " + bestEpoch);

            Path ckpt = dir.resolve("ckpt.d4j");
            EarlyStopping.State[] saved = new EarlyStopping.State[1];
            int at = kill;
            try (Sequential m = model()) {
                EarlyStopping stop = new EarlyStopping("val_loss", 3, 0, true);
                Callback dies = new Callback() {
                    @Override
                    public boolean onEpochEnd(TrainableModel model, EpochLog log) {
                        if (log.epoch() == at) {
                            model.save(ckpt, true);
                            saved[0] = stop.state();
                            throw new Killed();
                        }
                        return false;
                    }
                };
                assertThrows(Killed.class, () -> m.fit(data, fit(stop, dies)));
            }
            assertTrue(saved[0].epochsWithoutImprovement() > 0 && saved[0].bestWeights() != null, "state: " + saved[0]);

            try (Sequential m = Sequential.load(ckpt)) {
                EarlyStopping stop = new EarlyStopping("val_loss", 3, 0, true).resumeFrom(saved[0]);
                History resumed = m.fit(data, fit(stop).initialEpoch(kill + 1));
                assertTrue(resumed.stoppedEarly());
                assertEquals(straight.last().epoch(), resumed.last().epoch(), "stops at the same epoch");
                assertEquals(bestEpoch, stop.bestEpoch());
                assertArrayEquals(straightWeights, m.parameters(), "the best epoch's weights, bit for bit");
            }

            // without the state the resumed fit forgets the window: it does not end as the uninterrupted one
            try (Sequential m = Sequential.load(ckpt)) {
                EarlyStopping fresh = new EarlyStopping("val_loss", 3, 0, true);
                History h = m.fit(data, fit(fresh).initialEpoch(kill + 1));
                assertFalse(h.last().epoch() == straight.last().epoch()
                        && java.util.Arrays.equals(straightWeights, m.parameters()),
                        "the test must tell a resumed state from a fresh one");
            }
        }
    }

    @Test
    void aStateIsCheckedBeforeItIsUsed() {
        assertThrows(IllegalArgumentException.class, () -> new EarlyStopping.State(-1, 0.5, 2, null));
        assertThrows(IllegalArgumentException.class, () -> new EarlyStopping.State(0, Double.NaN, 2, null));
        assertThrows(IllegalArgumentException.class, () -> new EarlyStopping.State(0, 0.5, -1, new float[3]));
        EarlyStopping restoring = new EarlyStopping("val_loss", 2, 0, true);
        assertThrows(IllegalArgumentException.class,
                () -> restoring.resumeFrom(new EarlyStopping.State(1, 0.5, 3, null)), "best weights are needed");
        try (Sequential m = model(); Dataset data = noisy()) {
            restoring.resumeFrom(new EarlyStopping.State(1, 0.5, 3, new float[7]));
            assertThrows(IllegalArgumentException.class, () -> m.fit(data, fit(restoring).initialEpoch(5)),
                    "weights of another model");
        }
    }
}
