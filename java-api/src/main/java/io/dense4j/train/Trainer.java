package io.dense4j.train;

import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * THE fit loop, the same for every backend: data checks, Keras's validation split, preprocessing fitted on the
 * training rows only, host-side shuffling, chunks of steps per backend call ({@link #STEPS_PER_CALL} first, then sized
 * by their time) with their learning rates evaluated here, validation after each epoch, callbacks, early stopping,
 * cancellation between chunks, and the training record saved with the model. A backend only runs chunks
 * ({@link TrainingSession}); a model only provides a {@link TrainingTarget}.
 *
 * <p>Reproducible: the shuffle of epoch e is the e-th draw of a stream seeded by {@code Fit.seed}, dropout masks
 * derive from (seed, epoch, step), so the same seed and thread count give bit-identical weights, and a fit resumed
 * at {@link Fit#initialEpoch} draws what the uninterrupted one would have.
 */
public final class Trainer {
    /**
     * Training steps of a fit's first backend call: progress, callbacks and cancellation are handled between calls.
     * Later calls of the fit double (up to {@link #MAX_STEPS_PER_CALL}, or the least {@link Callback#maxStepsPerCall}
     * of the fit's callbacks, read when the fit starts) while a call takes under 10 ms, and halve back (not below
     * this) when one takes over 50 ms: a call of a small network's steps costs a fixed part (the CPU engine copies the
     * first layer's weights and state into its per-thread panels and back: ~2.5% of a 64-step call of the reference
     * network at 2 threads, benchmarks/RESULTS.md "Session 11"), while the time between two progress reports or
     * cancellation checks stays within tens of milliseconds. Results do not depend on how the steps are cut into
     * calls.
     */
    public static final int STEPS_PER_CALL = 64;
    /** The most training steps of one backend call of a fit. */
    public static final int MAX_STEPS_PER_CALL = 1024;
    private static final long GROW_BELOW_NANOS = 10_000_000L;
    private static final long SHRINK_ABOVE_NANOS = 50_000_000L;

    private Trainer() {}

    /**
     * Trains {@code target} on {@code data} with {@code fit}'s settings; returns the per-epoch metrics.
     *
     * @throws IllegalStateException the target is not compiled
     * @throws IllegalArgumentException the data does not suit the model (the message says what and where)
     * @throws NonFiniteLossException the loss became NaN or infinite (that update was not applied)
     */
    public static History fit(TrainingTarget target, Dataset data, Fit fit) {
        Loss loss = target.loss();
        if (loss == null || target.optimizer() == null) {
            throw new IllegalStateException("compile the model (optimizer, loss) before fit");
        }
        DataChecks.check(data, "training data", target.inputSize(), target.outputSize(), loss);
        target.initializeIfNeeded(fit.seed());

        int n = data.size();
        int nTrain = n;
        Dataset validation = fit.validationData();
        if (fit.validationSplit() > 0) {
            // Keras semantics: the last fraction of the rows, before shuffling
            nTrain = n - (int) Math.round(n * fit.validationSplit());
            if (nTrain < 1 || nTrain == n) {
                throw new IllegalArgumentException("validation split " + fit.validationSplit() + " of " + n
                        + " rows leaves " + nTrain + " training rows and " + (n - nTrain) + " validation rows");
            }
        }
        if (validation != null) {
            DataChecks.check(validation, "validation data", target.inputSize(), target.outputSize(), loss);
        }

        Normalizer normalizer = target.preprocessing();
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            Dataset train = data;
            if (normalizer != null) {
                // normalize copies: the caller's data stays as it was; statistics come from training rows only
                if (!normalizer.isFitted()) {
                    try (Dataset fitRows = data.subset(DataChecks.range(0, nTrain))) {
                        normalizer.fit(fitRows);
                    }
                }
                train = data.floatCopy();
                owned.add(train);
                normalizer.apply(train.features());
                if (validation != null) {
                    validation = validation.floatCopy();
                    owned.add(validation);
                    normalizer.apply(validation.features());
                }
            }
            return run(target, train, nTrain, validation, fit);
        } finally {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // closing native tensors does not fail
                }
            }
        }
    }

    private static History run(TrainingTarget target, Dataset train, int nTrain, Dataset validation, Fit fit) {
        Loss loss = target.loss();
        double accuracyDivisor = loss.accuracyDivisor(target.outputSize());
        int batch = Math.min(fit.batchSize(), nTrain);
        int fullEpoch = (nTrain + batch - 1) / batch;
        int stepsPerEpoch = fit.stepsPerEpoch() > 0 ? Math.min(fit.stepsPerEpoch(), fullEpoch) : fullEpoch;
        List<Callback> callbacks = fit.callbacks();
        int maxCallSteps = MAX_STEPS_PER_CALL;
        for (Callback c : callbacks) {
            if (c.maxStepsPerCall() > 0) {
                maxCallSteps = Math.min(maxCallSteps, c.maxStepsPerCall());
            }
        }
        int callSteps = Math.min(Math.min(STEPS_PER_CALL, maxCallSteps), stepsPerEpoch);
        History history = new History();
        SplittableRandom shuffleRng = new SplittableRandom(fit.seed() ^ 0x5DEECE66DL);
        int[] order = DataChecks.range(0, nTrain);
        if (fit.shuffle()) {
            // a resumed fit draws the shuffles the uninterrupted one would have drawn for the epochs it skips
            for (int e = 0; e < fit.initialEpoch(); e++) {
                shuffle(order, shuffleRng);
            }
        }
        float[] lrs = new float[Math.min(maxCallSteps, stepsPerEpoch)];
        Cancellation cancellation = fit.cancellation();
        TrainableModel model = target.model();
        for (Callback c : callbacks) {
            c.onTrainBegin(model, fit, stepsPerEpoch);
        }
        try (TrainingSession run = target.startTraining(train, nTrain, batch)) {
            epochs:
            for (int epoch = fit.initialEpoch(); epoch < fit.epochs(); epoch++) {
                for (Callback c : callbacks) {
                    c.onEpochBegin(epoch);
                }
                long t0 = System.nanoTime();
                if (fit.shuffle()) {
                    shuffle(order, shuffleRng);
                }
                run.order(order);
                double lossSum = 0;
                double correct = 0;
                double rows = 0;
                double lastLr = Double.NaN;
                for (int s = 0; s < stepsPerEpoch; ) {
                    if (cancellation != null && cancellation.isCancelled()) {
                        history.markCancelled();
                        break epochs;
                    }
                    int nb = Math.min(callSteps, stepsPerEpoch - s);
                    long callStart = System.nanoTime();
                    LossStats st = chunk(run, target, epoch, s, batch, nb, lrs,
                            fit.seed() + 0x9E3779B97F4A7C15L * (epoch + 1));
                    callSteps = nextCallSteps(callSteps, nb, System.nanoTime() - callStart, maxCallSteps);
                    s += nb;
                    lastLr = lrs[nb - 1];
                    lossSum += st.lossSum();
                    correct += st.correct();
                    rows += st.rows();
                    for (Callback c : callbacks) {
                        c.onBatchProgress(epoch, s, lossSum / rows, correct / (rows * accuracyDivisor));
                    }
                }
                double valLoss = Double.NaN;
                double valAcc = Double.NaN;
                if (nTrain < train.size() || validation != null) {
                    LossStats vs = validation != null ? run.evaluate(validation, 0, validation.size())
                            : run.evaluate(train, nTrain, train.size() - nTrain);
                    valLoss = vs.lossSum() / vs.rows();
                    valAcc = vs.correct() / (vs.rows() * accuracyDivisor);
                }
                EpochLog log = new EpochLog(epoch, lossSum / rows,
                        accuracyOrNaN(loss, correct / (rows * accuracyDivisor)), valLoss, accuracyOrNaN(loss, valAcc),
                        lastLr, (System.nanoTime() - t0) / 1e9);
                history.add(log);
                boolean stop = false;
                for (Callback c : callbacks) {
                    stop |= c.onEpochEnd(model, log);
                }
                if (stop && epoch + 1 < fit.epochs()) {
                    history.markStoppedEarly();
                    break;
                }
            }
        }
        for (Callback c : callbacks) {
            c.onTrainEnd(model, history);
        }
        target.recordTraining(trainingRecord(fit, history, stepsPerEpoch, target.model().optimizerStep(),
                nTrain)); // the rows it trained on: a validation split is not among them
        return history;
    }

    /**
     * The next call's steps after a call of {@code steps} (of {@code callSteps} asked) took {@code nanos}, at most
     * {@code max} (the callbacks' bound, else {@link #MAX_STEPS_PER_CALL}).
     */
    static int nextCallSteps(int callSteps, int steps, long nanos, int max) {
        if (steps == callSteps && nanos < GROW_BELOW_NANOS) {
            return Math.min(max, callSteps * 2);
        }
        if (nanos > SHRINK_ABOVE_NANOS) {
            return Math.min(max, Math.max(STEPS_PER_CALL, callSteps / 2));
        }
        return callSteps;
    }

    /**
     * Runs {@code steps} training steps of one chunk, step s on the rows of the session's order from
     * {@code (firstStep + s) * batch}, with the optimizer's learning rates at (step, epoch) written to
     * {@code lrs[0, steps)}.
     */
    private static LossStats chunk(TrainingSession run, TrainingTarget target, int epoch, int firstStep, int batch,
                                   int steps, float[] lrs, long seed) {
        long step0 = run.step();
        for (int i = 0; i < steps; i++) {
            lrs[i] = (float) target.optimizer().schedule().at(step0 + i, epoch);
        }
        return run.train((long) firstStep * batch, batch, steps, lrs, seed);
    }

    /**
     * Runs one optimizer step per batch of {@code batchSize} consecutive rows of {@code rows}, in their order (the
     * last batch may be partial), continuing from the target's parameters and optimizer state: the steps a
     * data-parallel worker runs between two averages (local SGD), or a caller that orders its rows itself runs. The
     * learning rates are the optimizer's schedule at (optimizer step, {@code epoch}); dropout masks derive from
     * {@code seed} and the step. No shuffling, validation, callbacks or training record: those belong to whoever
     * drives the steps. The target's preprocessing, if any, must be fitted; it is applied to a copy of the rows.
     *
     * @return the loss stats of these steps (before each step's update)
     * @throws IllegalStateException the target is not compiled, or its preprocessing is not fitted
     * @throws IllegalArgumentException the rows do not suit the model (the message says what and where)
     * @throws NonFiniteLossException the loss became NaN or infinite (that update was not applied)
     */
    public static LossStats trainOnBatches(TrainingTarget target, Dataset rows, int batchSize, int epoch, long seed) {
        Loss loss = target.loss();
        if (loss == null || target.optimizer() == null) {
            throw new IllegalStateException("compile the model (optimizer, loss) before training");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
        }
        DataChecks.check(rows, "training rows", target.inputSize(), target.outputSize(), loss);
        Normalizer normalizer = target.preprocessing();
        if (normalizer != null && !normalizer.isFitted()) {
            throw new IllegalStateException("the model's preprocessing is not fitted: fit it (Normalizer.fit) before "
                    + "training on batches");
        }
        target.initializeIfNeeded(seed);
        int n = rows.size();
        int batch = Math.min(batchSize, n);
        int steps = (n + batch - 1) / batch;
        Dataset train = rows;
        try {
            if (normalizer != null) {
                train = rows.floatCopy();
                normalizer.apply(train.features());
            }
            float[] lrs = new float[Math.min(STEPS_PER_CALL, steps)];
            LossStats total = LossStats.ZERO;
            try (TrainingSession run = target.startTraining(train, n, batch)) {
                run.order(DataChecks.range(0, n));
                for (int s = 0; s < steps; s += lrs.length) {
                    total = total.plus(chunk(run, target, epoch, s, batch, Math.min(lrs.length, steps - s), lrs, seed));
                }
            }
            return total;
        } finally {
            if (train != rows) {
                train.close();
            }
        }
    }

    /**
     * The record of a finished fit that a model keeps (and saves as its "training" metadata): epochs run, batch
     * size, steps per epoch, optimizer steps, seed, training rows, initial epoch, cancellation, the per-epoch history
     * and the time. A distributed trainer records its fits with it too (and may add its own keys).
     */
    public static Map<String, Object> trainingRecord(Fit fit, History history, int stepsPerEpoch, long steps,
                                                     long trainingRows) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("epochs_run", history.epochs().size());
        t.put("batch_size", fit.batchSize());
        t.put("steps_per_epoch", stepsPerEpoch);
        t.put("optimizer_steps", steps);
        t.put("seed", fit.seed());
        t.put("training_rows", trainingRows);
        if (fit.initialEpoch() > 0) {
            t.put("initial_epoch", fit.initialEpoch());
        }
        if (history.cancelled()) {
            t.put("cancelled", true);
        }
        t.put("history", history.asMap());
        t.put("trained_at", java.time.Instant.now().toString());
        return t;
    }

    private static double accuracyOrNaN(Loss loss, double acc) {
        return loss.hasAccuracy() ? acc : Double.NaN;
    }

    private static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
