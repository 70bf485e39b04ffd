package io.dense4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A best-only {@link ModelCheckpoint} resumed with its {@link ModelCheckpoint#state()} keeps the best value it had:
 * a fit killed after an epoch and resumed from a checkpoint leaves the best file the uninterrupted fit leaves, and
 * a worse epoch after the resume does not overwrite it.
 */
class ModelCheckpointResumeTest {
    static final int EPOCHS = 14;

    static Fit fit(Callback... callbacks) {
        return Fit.epochs(EPOCHS).batchSize(16).validationSplit(0.25).seed(5).callbacks(callbacks);
    }

    static float[] parameters(Path file) {
        try (Sequential m = Sequential.load(file)) {
            return m.parameters();
        }
    }

    static byte[] bytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** After epoch {@code at} (0-based): the best file's bytes then (null: epoch not reached). */
    static final class BestFileAfter implements Callback {
        final Path best;
        final int at;
        byte[] seen;

        BestFileAfter(Path best, int at) {
            this.best = best;
            this.at = at;
        }

        @Override
        public boolean onEpochEnd(TrainableModel model, EpochLog log) {
            if (log.epoch() == at) {
                seen = bytes(best);
            }
            return false;
        }
    }

    @Test
    void aResumedBestOnlyCheckpointKeepsItsBestAndEndsWithTheUninterruptedBestFile(@TempDir Path dir)
            throws IOException {
        try (Dataset data = EarlyStoppingResumeTest.noisy()) {
            Path straightBest = dir.resolve("straight-best.d4j");
            History straight;
            try (Sequential m = EarlyStoppingResumeTest.model()) {
                straight = m.fit(data, fit(ModelCheckpoint.bestOnly(straightBest.toString(), "val_loss")));
            }
            // the kill: after an epoch k whose next epoch is worse than the best up to k (a fresh callback would
            // overwrite the best file with it), with a better epoch still to come or not
            double bestSoFar = Double.POSITIVE_INFINITY;
            int kill = -1;
            for (int e = 0; e + 1 < EPOCHS; e++) {
                bestSoFar = Math.min(bestSoFar, straight.epochs().get(e).valLoss());
                if (straight.epochs().get(e + 1).valLoss() >= bestSoFar) {
                    kill = e;
                    break;
                }
            }
            assertTrue(kill >= 0, "no epoch followed by a worse one: " + straight.epochs());
            int at = kill;

            Path best = dir.resolve("best.d4j");
            Path ckpt = dir.resolve("ckpt.d4j");
            ModelCheckpoint.State[] saved = new ModelCheckpoint.State[1];
            try (Sequential m = EarlyStoppingResumeTest.model()) {
                ModelCheckpoint bestOnly = ModelCheckpoint.bestOnly(best.toString(), "val_loss");
                Callback dies = new Callback() { // after the best-only callback has seen the epoch
                    @Override
                    public boolean onEpochEnd(TrainableModel model, EpochLog log) {
                        if (log.epoch() == at) {
                            model.save(ckpt, true);
                            saved[0] = bestOnly.state();
                            throw new EarlyStoppingResumeTest.Killed();
                        }
                        return false;
                    }
                };
                assertThrows(EarlyStoppingResumeTest.Killed.class, () -> m.fit(data, fit(bestOnly, dies)));
            }
            assertEquals(bestSoFar, saved[0].best(), "the state holds the best value up to the kill");
            assertTrue(saved[0].bestEpoch() >= 0 && saved[0].bestEpoch() <= kill, saved[0].toString());
            byte[] atKill = bytes(best);
            // a later process: only the checkpoint, the best file and the state survive
            try (Sequential m = Sequential.load(ckpt)) {
                ModelCheckpoint bestOnly = ModelCheckpoint.bestOnly(best.toString(), "val_loss").resumeFrom(saved[0]);
                BestFileAfter next = new BestFileAfter(best, kill + 1);
                m.fit(data, fit(bestOnly, next).initialEpoch(kill + 1));
                assertArrayEquals(atKill, next.seen, "the worse epoch " + (kill + 2) + " did not overwrite the best file");
            }
            assertArrayEquals(parameters(straightBest), parameters(best), "the uninterrupted fit's best file");

            // without the state the resumed fit forgets its best: the worse epoch overwrites the file
            Files.write(best, atKill);
            try (Sequential m = Sequential.load(ckpt)) {
                BestFileAfter next = new BestFileAfter(best, kill + 1);
                m.fit(data, fit(ModelCheckpoint.bestOnly(best.toString(), "val_loss"), next).initialEpoch(kill + 1));
                assertFalse(Arrays.equals(atKill, next.seen), "the test must tell a resumed state from a fresh one");
            }
        }
    }

    @Test
    void aStateIsCheckedBeforeItIsUsed(@TempDir Path dir) {
        assertThrows(IllegalArgumentException.class, () -> new ModelCheckpoint.State(0.5, -2));
        assertTrue(Double.isNaN(new ModelCheckpoint.State(0.5, -1).best()), "no best epoch: no best value");
        ModelCheckpoint c = ModelCheckpoint.bestOnly(dir.resolve("best.d4j").toString(), "val_loss");
        assertEquals(new ModelCheckpoint.State(Double.NaN, -1), c.state());
        try (Sequential m = EarlyStoppingResumeTest.model(); Dataset data = EarlyStoppingResumeTest.noisy()) {
            // a state from epoch 6 cannot be the state of a checkpoint a fit resuming at epoch 5 was saved from
            c.resumeFrom(new ModelCheckpoint.State(0.5, 5));
            assertThrows(IllegalArgumentException.class, () -> m.fit(data, fit(c).initialEpoch(5)));
            assertFalse(Files.exists(dir.resolve("best.d4j")), "refused before any epoch");
        }
    }
}
