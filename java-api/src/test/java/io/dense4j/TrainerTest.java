package io.dense4j;

import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.backend.Backend;
import io.dense4j.backend.BackendFactory;
import io.dense4j.backend.cpu.CpuBackend;
import io.dense4j.data.Dataset;
import io.dense4j.io.ModelFile;
import io.dense4j.io.SafeTensors;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Architecture;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.model.ModelState;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Callback;
import io.dense4j.train.Cancellation;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Loss;
import io.dense4j.train.LossStats;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import io.dense4j.train.ModelCheckpoint;
import io.dense4j.train.TrainableModel;
import io.dense4j.train.Trainer;
import io.dense4j.train.TrainingSession;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Trainer's capabilities that the training service, Spark and federated trainers build on: cancellation
 * within one chunk, exact resume from a checkpoint with optimizer state, a step limit per epoch, a third backend
 * attached without touching Sequential, and model states that move, average and round-trip through files.
 */
class TrainerTest {
    static Dataset data;

    /** 900 rows, 6 features, 3 classes: 29 steps of 32 per epoch (a partial last batch). */
    @BeforeAll
    static void data() {
        Random r = new Random(5);
        int n = 900;
        float[] x = new float[n * 6];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(3);
            for (int j = 0; j < 6; j++) {
                x[i * 6 + j] = (float) (r.nextGaussian() + (j % 3 == y[i] ? 1.5 : 0));
            }
        }
        data = Dataset.of(Tensor.of(x, n, 6), Tensor.ofInts(y, n));
    }

    @AfterAll
    static void free() {
        data.close();
    }

    static Sequential model() {
        return model(true);
    }

    static Sequential model(boolean dropout) {
        Sequential m = dropout
                ? Sequential.of(Dense.of(6, 16, Activation.RELU), Dropout.of(0.1), Dense.of(3, Activation.SOFTMAX))
                : Sequential.of(Dense.of(6, 16, Activation.RELU), Dense.of(3, Activation.SOFTMAX));
        m.compile(Optimizers.adam(3e-3).withSchedule(new LearningRateSchedule.StepDecay(3e-3, 1, 0.7)),
                Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    @Test
    void cancellationStopsWithinOneChunkAndKeepsThatChunksWeights() {
        Cancellation cancel = new Cancellation();
        AtomicInteger ended = new AtomicInteger();
        Callback cancelAfterFirstChunk = new Callback() {
            @Override
            public void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {
                cancel.cancel();
            }

            @Override
            public void onTrainEnd(TrainableModel model, History history) {
                ended.incrementAndGet();
            }
        };
        Fit fit = Fit.epochs(3).batchSize(8).seed(4); // 113 steps an epoch: two chunks
        try (Sequential a = model(); Sequential b = model()) {
            History h = a.fit(data, fit.callbacks(cancelAfterFirstChunk).cancellation(cancel));
            assertTrue(h.cancelled());
            assertEquals(0, h.epochs().size(), "the half-done epoch has no log");
            assertEquals(64, a.optimizerStep(), "stopped after the chunk that was running");
            assertEquals(1, ended.get(), "onTrainEnd runs for a cancelled fit too");
            assertEquals(Boolean.TRUE, a.trainingInfo().get("cancelled"));
            // the same 64 steps, run as a fit of one 64-step epoch, give the same weights
            b.fit(data, Fit.epochs(1).batchSize(8).seed(4).stepsPerEpoch(64));
            assertArrayEquals(b.parameters(), a.parameters());
        }
        try (Sequential c = model()) {
            Cancellation already = new Cancellation();
            already.cancel();
            History h = c.fit(data, Fit.epochs(2).cancellation(already));
            assertTrue(h.cancelled());
            assertEquals(0, c.optimizerStep(), "cancelled before the first chunk: nothing trained");
        }
    }

    @Test
    void stepsPerEpochLimitsEveryEpoch() {
        try (Sequential m = model()) {
            History h = m.fit(data, Fit.epochs(2).batchSize(32).stepsPerEpoch(5).seed(1));
            assertEquals(2, h.epochs().size());
            assertEquals(10, m.optimizerStep());
            assertEquals(5, m.trainingInfo().get("steps_per_epoch"));
        }
    }

    @ParameterizedTest(name = "dropout {0}")
    @ValueSource(booleans = {true, false})
    void aFitResumedFromACheckpointWithOptimizerStateMatchesTheUninterruptedOne(boolean dropout, @TempDir Path dir) {
        Fit fit = Fit.epochs(4).batchSize(16).seed(9).validationSplit(0.1);
        float[] straight;
        try (Sequential m = model(dropout)) {
            m.fit(data, fit);
            straight = m.parameters();
        }
        try (Sequential m = model(dropout)) {
            m.fit(data, Fit.epochs(2).batchSize(16).seed(9).validationSplit(0.1)
                    .callbacks(ModelCheckpoint.everyEpoch(dir.resolve("ckpt-{epoch}.d4j").toString()).withOptimizerState()));
        }
        try (Sequential resumed = Sequential.load(dir.resolve("ckpt-2.d4j"))) {
            History h = resumed.fit(data, fit.initialEpoch(2));
            assertEquals(List.of(2, 3), h.epochs().stream().map(EpochLog::epoch).toList());
            assertEquals((float) (3e-3 * 0.7 * 0.7 * 0.7), h.last().learningRate(), 1e-12, "epoch-based schedule continues");
            assertArrayEquals(straight, resumed.parameters(), "bit-identical to the uninterrupted fit");
        }
        // without the optimizer's buffers (a plain save) Adam restarts its moments: a different result
        try (Sequential m = model(dropout)) {
            m.fit(data, Fit.epochs(2).batchSize(16).seed(9).validationSplit(0.1));
            m.save(dir.resolve("plain.d4j"));
        }
        try (Sequential resumed = Sequential.load(dir.resolve("plain.d4j"))) {
            resumed.fit(data, fit.initialEpoch(2));
            assertFalse(java.util.Arrays.equals(straight, resumed.parameters()));
        }
    }

    /** A backend of another kind, here delegating to the CPU one and counting what Sequential asks of it. */
    static final class CountingBackend implements Backend {
        final Backend inner;
        final AtomicInteger chunks = new AtomicInteger();
        final AtomicInteger forwards = new AtomicInteger();

        CountingBackend(Architecture arch) {
            inner = new CpuBackend(arch);
        }

        @Override
        public Device device() {
            return inner.device();
        }

        @Override
        public Architecture architecture() {
            return inner.architecture();
        }

        @Override
        public float[] parameters() {
            return inner.parameters();
        }

        @Override
        public void setParameters(float[] values) {
            inner.setParameters(values);
        }

        @Override
        public void compile(Optimizer optimizer, Loss loss) {
            inner.compile(optimizer, loss);
        }

        @Override
        public OptimizerState optimizerState() {
            return inner.optimizerState();
        }

        @Override
        public void setOptimizerState(OptimizerState state) {
            inner.setOptimizerState(state);
        }

        @Override
        public long optimizerStep() {
            return inner.optimizerStep();
        }

        @Override
        public TrainingSession startTraining(Dataset train, int nTrain, int batch) {
            TrainingSession s = inner.startTraining(train, nTrain, batch);
            return new TrainingSession() {
                @Override
                public long step() {
                    return s.step();
                }

                @Override
                public void order(int[] order) {
                    s.order(order);
                }

                @Override
                public LossStats train(long first, int b, int steps, float[] lrs, long seed) {
                    chunks.incrementAndGet();
                    return s.train(first, b, steps, lrs, seed);
                }

                @Override
                public LossStats evaluate(Dataset d, int first, int count) {
                    return s.evaluate(d, first, count);
                }

                @Override
                public void close() {
                    s.close();
                }
            };
        }

        @Override
        public LossStats forward(Tensor x, Tensor outputs, Tensor labels, Tensor targets) {
            forwards.incrementAndGet();
            return inner.forward(x, outputs, labels, targets);
        }

        @Override
        public float[][] predict(float[][] rows) {
            forwards.incrementAndGet();
            return inner.predict(rows);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Test
    void aThirdBackendRunsTheSameLoopAndReceivesTheModelsState() {
        CountingBackend[] made = new CountingBackend[1];
        BackendFactory counting = arch -> made[0] = new CountingBackend(arch);
        Fit fit = Fit.epochs(1).batchSize(8).seed(2); // 113 steps: chunks of 64 and 49
        try (Sequential cpu = model(); Sequential other = model()) {
            cpu.fit(data, fit);
            other.fit(data, fit.stepsPerEpoch(10)); // some state to move: weights, Adam's moments, the step
            cpu.close();
            try (Sequential reference = model()) {
                reference.fit(data, fit.stepsPerEpoch(10));
                other.to(counting);
                assertEquals(reference.parameters().length, other.parameters().length);
                assertArrayEquals(reference.parameters(), other.parameters());
                assertEquals(10, other.optimizerStep());
                reference.fit(data, fit.seed(3));
                other.fit(data, fit.seed(3));
                assertEquals(2, made[0].chunks.get(), "the Trainer ran its chunks on the attached backend");
                assertArrayEquals(reference.parameters(), other.parameters(), "moved optimizer state: same result");
                assertEquals(reference.evaluate(data).loss(), other.evaluate(data).loss());
                assertTrue(made[0].forwards.get() >= 1);
            }
            other.to(Device.cpu());
            assertThrows(IllegalStateException.class, () -> made[0].inner.parameters(), "the old backend was closed");
        }
    }

    @Test
    void statesRoundTripThroughFilesAndAverage(@TempDir Path dir) throws IOException {
        try (Sequential a = model(); Sequential b = model()) {
            a.fit(data, Fit.epochs(1).seed(1));
            b.fit(data, Fit.epochs(1).seed(2));
            ModelState sa = a.state();
            assertTrue(sa.optimizer().hasSlots());
            assertEquals(29, sa.optimizer().step());
            try (Sequential copy = Sequential.fromState(sa)) {
                ModelState sc = copy.state();
                assertEquals(sa.config().toJson(), sc.config().toJson());
                assertArrayEquals(sa.parameters(), sc.parameters());
                assertEquals(sa.optimizer(), sc.optimizer());
                assertEquals(sa.training(), sc.training());
                assertEquals(sa, sc);
            }
            a.save(dir.resolve("full.d4j"), true);
            a.save(dir.resolve("plain.d4j"));
            assertEquals(sa, ModelFile.read(dir.resolve("full.d4j")));
            assertEquals(sa.withOptimizer(sa.optimizer().withoutSlots()), ModelFile.read(dir.resolve("plain.d4j")));
            try (SafeTensors.File plain = SafeTensors.read(dir.resolve("plain.d4j"));
                 SafeTensors.File full = SafeTensors.read(dir.resolve("full.d4j"))) {
                assertEquals(List.of("dense_0.kernel", "dense_0.bias", "dense_1.kernel", "dense_1.bias"), plain.names());
                assertArrayEquals(new long[] {3, a.parameterCount()}, full.shape(ModelFile.OPTIMIZER_STATE));
            }

            ModelState avg = ModelState.weightedAverage(List.of(sa, b.state()), new double[] {1, 3});
            float[] pa = a.parameters();
            float[] pb = b.parameters();
            float[] pavg = avg.parameters();
            for (int i = 0; i < pa.length; i++) {
                assertEquals((pa[i] + 3.0 * pb[i]) / 4, pavg[i], 1e-6, "parameter " + i);
            }
            try (Sequential other = Sequential.of(Dense.of(6, 4, Activation.RELU), Dense.of(3, Activation.SOFTMAX))) {
                var e = assertThrows(IllegalArgumentException.class,
                        () -> ModelState.weightedAverage(List.of(sa, other.state()), new double[] {1, 1}));
                assertTrue(e.getMessage().contains("another architecture"), e.getMessage());
            }
            var e = assertThrows(IllegalArgumentException.class,
                    () -> sa.withParameters(new float[3]).validate());
            assertTrue(e.getMessage().contains("parameters"), e.getMessage());

            // Keras's get_weights / set_weights order: what a converter from another framework uses
            List<float[]> w = a.weights();
            assertEquals(4, w.size());
            assertEquals(6 * 16, w.get(0).length);
            assertEquals(sa.layerWeights(1).get(1).length, w.get(3).length);
            try (Sequential copy = model()) {
                copy.setWeights(w);
                assertArrayEquals(a.parameters(), copy.parameters());
                w.set(2, new float[5]);
                e = assertThrows(IllegalArgumentException.class, () -> copy.setWeights(w));
                assertTrue(e.getMessage().contains("Dense layer 1: the kernel needs 16 x 3 = 48 values, got 5"),
                        e.getMessage());
            }
        }
    }

    /**
     * trainOnBatches is the fit loop's own step code: over the rows in fit's order, with fit's dropout seed for that
     * epoch, it gives fit's weights and optimizer state bit for bit; split into two calls it continues exactly
     * (optimizer step, per-step and per-epoch learning rates); its loss stats are the epoch's.
     */
    @Test
    void trainOnBatchesRunsFitsStepsAndContinuesAcrossCalls() {
        long seed = 9;
        int epoch = 2;
        try (Sequential a = model(); Sequential b = model(); Sequential c = model()) {
            a.initialize(3);
            b.setParameters(a.parameters());
            c.setParameters(a.parameters());
            // fit's epoch 2 (the step decay gives it its own learning rate), unshuffled
            History h = a.fit(data, Fit.epochs(epoch + 1).initialEpoch(epoch).shuffle(false).batchSize(32).seed(seed));
            long dropoutSeed = seed + 0x9E3779B97F4A7C15L * (epoch + 1);
            LossStats st = Trainer.trainOnBatches(b.trainingTarget(), data, 32, epoch, dropoutSeed);
            assertArrayEquals(a.parameters(), b.parameters());
            assertEquals(a.state().optimizer(), b.state().optimizer());
            assertEquals(29, b.optimizerStep());
            assertEquals(900, st.rows());
            assertEquals(h.last().loss(), st.meanLoss(), 1e-12);
            assertEquals(h.last().accuracy(), st.correct() / st.rows(), 1e-12);

            // 10 batches, then the other 19 (the last partial): the same as one call
            int[] first = new int[320];
            int[] rest = new int[580];
            for (int i = 0; i < 900; i++) {
                if (i < 320) {
                    first[i] = i;
                } else {
                    rest[i - 320] = i;
                }
            }
            try (Dataset d1 = data.subset(first); Dataset d2 = data.subset(rest)) {
                LossStats s1 = Trainer.trainOnBatches(c.trainingTarget(), d1, 32, epoch, dropoutSeed);
                assertEquals(10, c.optimizerStep());
                LossStats s2 = Trainer.trainOnBatches(c.trainingTarget(), d2, 32, epoch, dropoutSeed);
                assertEquals(29, c.optimizerStep());
                assertArrayEquals(b.parameters(), c.parameters());
                assertEquals(b.state().optimizer(), c.state().optimizer());
                assertEquals(st.rows(), s1.plus(s2).rows());
            }
        }
    }

    @Test
    void trainOnBatchesRefusesWhatFitRefuses() {
        try (Sequential m = model(); Sequential raw = Sequential.of(Dense.of(6, 3, Activation.SOFTMAX));
             Dataset nan = Dataset.of(new float[][] {{1, 2, 3, 4, 5, Float.NaN}}, new int[] {1}, 3, List.of());
             Dataset wide = Dataset.of(new float[][] {{1, 2, 3, 4, 5, 6, 7}}, new int[] {1}, 3, List.of())) {
            var e = assertThrows(IllegalStateException.class,
                    () -> Trainer.trainOnBatches(raw.trainingTarget(), data, 32, 0, 1));
            assertTrue(e.getMessage().contains("compile"), e.getMessage());
            var bad = assertThrows(IllegalArgumentException.class,
                    () -> Trainer.trainOnBatches(m.trainingTarget(), nan, 32, 0, 1));
            assertTrue(bad.getMessage().contains("NaN at row 0, column 5"), bad.getMessage());
            bad = assertThrows(IllegalArgumentException.class,
                    () -> Trainer.trainOnBatches(m.trainingTarget(), wide, 32, 0, 1));
            assertTrue(bad.getMessage().contains("7 features per row, the model takes 6"), bad.getMessage());
            m.preprocessing(io.dense4j.data.Normalizer.standardize());
            e = assertThrows(IllegalStateException.class, () -> Trainer.trainOnBatches(m.trainingTarget(), data, 32, 0, 1));
            assertTrue(e.getMessage().contains("preprocessing is not fitted"), e.getMessage());
            m.preprocessing().fit(data);
            float[] before = m.parameters();
            Trainer.trainOnBatches(m.trainingTarget(), data, 64, 0, 1);
            assertEquals(15, m.optimizerStep());
            assertFalse(java.util.Arrays.equals(before, m.parameters()));
        }
    }

    /**
     * The CPU engine trains its own copy of the optimizer state (slots padded to cache lines): read during a fit (a
     * callback), the state is the one training reached; replaced during a fit, training goes on from the new one;
     * after the fit the model's state is the engine's.
     */
    @Test
    void optimizerStateReadOrReplacedDuringFitIsTheStateTrainingUses() {
        try (Sequential a = model(false); Sequential b = model(false); Sequential c = model(false)) {
            b.setParameters(a.parameters());
            c.setParameters(a.parameters());
            OptimizerState[] seen = new OptimizerState[1];
            Callback readThenReset = new Callback() {
                @Override
                public boolean onEpochEnd(TrainableModel model, EpochLog log) {
                    if (log.epoch() == 0) {
                        seen[0] = a.state().optimizer();
                        a.setOptimizerState(new OptimizerState(seen[0].step(), null));
                    }
                    return false;
                }
            };
            a.fit(data, Fit.epochs(2).seed(4).callbacks(readThenReset));
            b.fit(data, Fit.epochs(1).seed(4));
            assertEquals(b.state().optimizer(), seen[0], "the state read in the callback is the trained one");
            float[] slots = seen[0].slots();
            assertTrue(java.util.stream.IntStream.range(0, slots.length).anyMatch(i -> slots[i] != 0f),
                    "Adam's moments after an epoch are not all zero");
            b.setOptimizerState(new OptimizerState(b.optimizerStep(), null));
            b.fit(data, Fit.epochs(2).initialEpoch(1).seed(4));
            assertArrayEquals(b.parameters(), a.parameters(), "the reset in the callback took effect at once");
            assertEquals(b.state().optimizer(), a.state().optimizer());
            c.fit(data, Fit.epochs(2).seed(4));
            assertFalse(java.util.Arrays.equals(c.parameters(), a.parameters()), "without the reset: other weights");
        }
    }

    /** The optimizer state of one model set into another makes the next steps identical. */
    @Test
    void setOptimizerStateContinuesFromAnotherModelsState() {
        try (Sequential a = model(); Sequential b = model()) {
            a.fit(data, Fit.epochs(1).seed(4));
            b.setParameters(a.parameters());
            b.setOptimizerState(a.state().optimizer());
            assertEquals(a.state().optimizer(), b.state().optimizer());
            a.fit(data, Fit.epochs(2).initialEpoch(1).seed(4));
            b.fit(data, Fit.epochs(2).initialEpoch(1).seed(4));
            assertArrayEquals(a.parameters(), b.parameters());

            var e = assertThrows(IllegalArgumentException.class,
                    () -> b.setOptimizerState(new OptimizerState(3, new float[9])));
            assertTrue(e.getMessage().contains("holds 9 floats, the model needs " + 3 * a.parameterCount()),
                    e.getMessage());
            float[] inf = new float[(int) (3 * a.parameterCount())];
            inf[7] = Float.POSITIVE_INFINITY;
            e = assertThrows(IllegalArgumentException.class, () -> b.setOptimizerState(new OptimizerState(3, inf)));
            assertTrue(e.getMessage().contains("value 7 is Infinity"), e.getMessage());
            try (Sequential raw = Sequential.of(Dense.of(6, 3, Activation.SOFTMAX))) {
                assertThrows(IllegalStateException.class, () -> raw.setOptimizerState(OptimizerState.initial()));
            }
        }
    }
}
