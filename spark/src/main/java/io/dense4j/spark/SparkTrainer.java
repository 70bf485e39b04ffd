package io.dense4j.spark;

import io.dense4j.Sequential;
import io.dense4j.data.FeatureStats;
import io.dense4j.data.Normalizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.train.Callback;
import io.dense4j.train.Cancellation;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Evaluator;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Loss;
import io.dense4j.train.NonFiniteLossException;
import io.dense4j.train.TrainableModel;
import io.dense4j.train.Trainer;
import io.dense4j.train.TrainingTarget;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * Data-parallel training of a Dense4J model on Apache Spark by parameter averaging (local SGD): Spark schedules,
 * ships and retries; every task trains with Dense4J's native engine.
 *
 * <pre>{@code
 * History h = SparkTrainer.builder().averagingFrequency(16).workers(2).build()
 *         .fit(model, trainDataFrame, Fit.epochs(5).batchSize(32).seed(42));
 * }</pre>
 *
 * <p><b>Rounds.</b> The rows are dealt to the workers once (row i of the input to worker {@code i mod workers}),
 * checked, packed and cached by Spark. Each round the driver broadcasts the parameters and the optimizer state,
 * every worker runs {@code H} local steps of batch {@code batchSize} on its own rows from that state, with the
 * same {@code Trainer} step code as {@code fit} ({@link Trainer#trainOnBatches}), and the results are averaged,
 * weighted by the rows each worker trained on, with a tree aggregation: one Spark job per round. An epoch is
 * every training row once across the workers; rounds never straddle epochs (see {@link Schedule}).
 *
 * <p><b>Optimizer state.</b> The optimizer's buffers (SGD's momentum, Adam's first and second moments, RMSprop's
 * averages) are averaged with the same weights as the parameters, and the step counter advances by the round's
 * local steps. Keeping each worker's own buffers would tie a worker's state to the executor that happens to run
 * it (a retried or moved task would start from another state) and let the workers' preconditioners drift apart;
 * resetting them every round would restart Adam's bias correction and, at small H, turn it into sign descent.
 * Averaged, the state is a function of what the driver broadcast, so every task is stateless and retryable, and at
 * H = 1 SGD with momentum is exactly synchronous SGD on batches of {@code workers x batchSize} rows (Adam's first
 * moment likewise; its second moment is the workers' mean of squared gradients, not the square of their mean).
 *
 * <p><b>Determinism.</b> For a fixed seed, worker count, H and input order, the result is the same bit for bit,
 * also when Spark retries failed tasks: shuffles and dropout masks are drawn from (seed, epoch, round, worker),
 * tasks keep no state, and the averages are summed in a fixed order whatever order tasks finish in
 * ({@link OrderedTree}). Every task of an executor runs its CPU kernels on {@code threadsPerTask} threads.
 *
 * <p><b>Input.</b> A DataFrame with a features column (array of numbers or ML vector) and a label column (a class
 * index or target number, or an array or vector of targets), or {@link SparkData} files. Column names and types
 * are checked on the driver; every row (width, finite values, label in range) is checked in the pass that
 * builds the shards, before the first round, and the first bad row fails the fit with a message naming it.
 *
 * <p><b>Metrics.</b> The per-epoch training loss and accuracy (running means over the epoch's rows, as fit
 * reports them), validation figures (a validation split, a validation DataFrame evaluated on the executors, or
 * {@link Fit#validationData} evaluated on the driver), callbacks (progress after each round, EarlyStopping,
 * ModelCheckpoint...), cancellation between rounds and the model's training record are those of {@code fit}. The
 * model ends with the averaged parameters and optimizer state: an ordinary model, to save, register and serve.
 */
public final class SparkTrainer {
    private final int averagingFrequency;
    private final int workers;
    private final int threadsPerTask;
    private final String featuresColumn;
    private final String labelColumn;
    private final RoundListener listener;

    private SparkTrainer(Builder b) {
        this.averagingFrequency = b.averagingFrequency;
        this.workers = b.workers;
        this.threadsPerTask = b.threadsPerTask;
        this.featuresColumn = b.featuresColumn;
        this.labelColumn = b.labelColumn;
        this.listener = b.listener;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Settings of a {@link SparkTrainer}; defaults: H = 16, one worker per task slot, columns "features", "label". */
    public static final class Builder {
        private int averagingFrequency = 16;
        private int workers;
        private int threadsPerTask;
        private String featuresColumn = "features";
        private String labelColumn = "label";
        private RoundListener listener;

        private Builder() {}

        /**
         * H, the local steps each worker runs between two averages (default 16). Small H is close to synchronous
         * data-parallel SGD and costs one Spark job, one broadcast and one result per worker every H steps; large
         * H ships less and runs longer between rounds, but the workers' models drift apart in between.
         */
        public Builder averagingFrequency(int h) {
            if (h < 1) {
                throw new IllegalArgumentException("averaging frequency must be >= 1 local step, got " + h);
            }
            this.averagingFrequency = h;
            return this;
        }

        /**
         * The number of workers (Spark partitions) the rows are dealt to. Default: the application's default
         * parallelism divided by spark.task.cpus, i.e. one worker per task slot. More workers than task slots run
         * each round in several waves.
         */
        public Builder workers(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("workers must be >= 1, got " + n);
            }
            this.workers = n;
            return this;
        }

        /** CPU threads of each task's kernels (default: spark.task.cpus, so tasks do not oversubscribe cores). */
        public Builder threadsPerTask(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("threads per task must be >= 1, got " + n);
            }
            this.threadsPerTask = n;
            return this;
        }

        /** The DataFrame column holding each row's features (array of numbers or ML vector). */
        public Builder featuresColumn(String name) {
            this.featuresColumn = Objects.requireNonNull(name, "name");
            return this;
        }

        /** The DataFrame column holding each row's label (class index or target), or its array or vector of targets. */
        public Builder labelColumn(String name) {
            this.labelColumn = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Receives every round's {@link RoundStats}. */
        public Builder onRound(RoundListener l) {
            this.listener = l;
            return this;
        }

        public SparkTrainer build() {
            return new SparkTrainer(this);
        }
    }

    public int averagingFrequency() {
        return averagingFrequency;
    }

    /** Trains {@code model} on a DataFrame; see the class documentation. */
    public History fit(Sequential model, org.apache.spark.sql.Dataset<Row> train, Fit fit) {
        return fit(model, SparkData.dataFrame(train, featuresColumn, labelColumn, "training data"), null, fit);
    }

    /** Trains {@code model} on a DataFrame, validating after each epoch on another (evaluated on the executors). */
    public History fit(Sequential model, org.apache.spark.sql.Dataset<Row> train,
                       org.apache.spark.sql.Dataset<Row> validation, Fit fit) {
        return fit(model, SparkData.dataFrame(train, featuresColumn, labelColumn, "training data"),
                SparkData.dataFrame(validation, featuresColumn, labelColumn, "validation data"), fit);
    }

    /** Trains {@code model} on files ({@link SparkData#idx}, {@link SparkData#csv}). */
    public History fit(Sequential model, SparkData train, Fit fit) {
        return fit(model, train, null, fit);
    }

    /**
     * Trains {@code model} on {@code train}, validating on {@code validation} (or null) after each epoch.
     *
     * @throws IllegalStateException the model is not compiled
     * @throws IllegalArgumentException the data does not suit the model (the first bad row, named), before any round
     * @throws NonFiniteLossException the loss of a worker became NaN or infinite
     */
    public History fit(Sequential model, SparkData train, SparkData validation, Fit fit) {
        TrainingTarget target = model.trainingTarget();
        Loss loss = target.loss();
        if (loss == null || target.optimizer() == null) {
            throw new IllegalStateException("compile the model (optimizer, loss) before fit");
        }
        if (validation != null && (fit.validationSplit() > 0 || fit.validationData() != null)) {
            throw new IllegalArgumentException("give either validation data or a validation split, not both");
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(train.spark.sparkContext());
        int taskCpus = jsc.getConf().getInt("spark.task.cpus", 1);
        int p = workers > 0 ? workers : Math.max(1, jsc.defaultParallelism() / taskCpus);
        int threads = threadsPerTask > 0 ? threadsPerTask : taskCpus;
        Supervision sup = Supervision.forLoss(loss, model.inputSize(), model.outputSize(), train.vectorLabels(),
                featuresColumn, labelColumn);
        Supervision valSup = validation == null ? null : Supervision.forLoss(loss, model.inputSize(),
                model.outputSize(), validation.vectorLabels(), featuresColumn, labelColumn);
        target.initializeIfNeeded(fit.seed());
        List<JavaRDD<Shard>> cached = new ArrayList<>();
        List<Broadcast<?>> broadcasts = new ArrayList<>();
        try {
            JavaRDD<Shard> shards = prepare(train.shards(p, sup), jsc, "dense4j: reading, checking and caching the "
                    + train.what(), cached);
            long n = dealtRows(summaries(shards, p), train.what());
            if (n == 0) {
                throw new IllegalArgumentException(train.what() + " has no rows");
            }
            long nTrain = n;
            if (fit.validationSplit() > 0) {
                // Keras semantics: the last fraction of the rows, before shuffling
                nTrain = n - Math.round(n * fit.validationSplit());
                if (nTrain < 1 || nTrain == n) {
                    throw new IllegalArgumentException("validation split " + fit.validationSplit() + " of " + n
                            + " rows leaves " + nTrain + " training rows and " + (n - nTrain) + " validation rows");
                }
            }
            int[] trainRows = new int[p];
            for (int w = 0; w < p; w++) {
                // rows w, w + p, w + 2p... of the input (dealtRows checked it), those before nTrain being training rows
                trainRows[w] = (int) rowsOf(nTrain, w, p);
                if (trainRows[w] < 1) {
                    throw new IllegalArgumentException(nTrain + " training rows for " + p + " workers: every worker "
                            + "needs at least one row; use fewer workers");
                }
            }
            JavaRDD<Shard> valShards = null;
            if (validation != null) {
                valShards = prepare(validation.shards(p, valSup), jsc, "dense4j: reading, checking and caching the "
                        + validation.what(), cached);
                dealtRows(summaries(valShards, p), validation.what());
            }
            Normalizer norm = model.preprocessing();
            if (norm != null && !norm.isFitted()) {
                jsc.setJobDescription("dense4j: fitting the preprocessing on the training rows");
                norm.fit(featureStats(shards, trainRows));
            }
            if (fit.validationData() != null) {
                Evaluator.evaluate(target, fit.validationData()); // its checks, before the first round
            }
            Schedule plan = new Schedule(fit.batchSize(), averagingFrequency, fit.stepsPerEpoch(), fit.shuffle(),
                    fit.seed(), trainRows);
            Broadcast<String> config = jsc.broadcast(model.config().toJson());
            broadcasts.add(config);
            Run run = new Run(model, target, loss, fit, plan, jsc, shards, valShards, config, threads, nTrain < n);
            History history = run.epochs();
            Map<String, Object> record = new LinkedHashMap<>(Trainer.trainingRecord(fit, history,
                    plan.stepsPerEpoch(), model.optimizerStep(), n));
            Map<String, Object> spark = new LinkedHashMap<>();
            spark.put("engine", "spark");
            spark.put("spark_version", jsc.version());
            spark.put("workers", p);
            spark.put("averaging_frequency", averagingFrequency);
            spark.put("rounds", run.rounds);
            spark.put("threads_per_task", threads);
            record.put("distributed", spark);
            target.recordTraining(record);
            return history;
        } finally {
            for (Broadcast<?> b : broadcasts) {
                b.destroy();
            }
            for (JavaRDD<Shard> r : cached) {
                r.unpersist(false);
            }
            jsc.setJobDescription(null);
        }
    }

    /** How many of the input rows 0 .. n-1 go to worker w of p (rows w, w + p, w + 2p...). */
    static long rowsOf(long n, int w, int p) {
        return n > w ? (n - w + p - 1) / p : 0;
    }

    /**
     * The number of input rows n, once every worker w is seen to hold exactly the rows w, w + p, w + 2p... below n.
     * The split into training and validation rows, the schedule and the preprocessing statistics all rest on that;
     * it fails when the input gave other rows to the pass that numbered them than to the pass that read them (a
     * DataFrame that is not deterministic, files that differ between executors or change during the fit), where
     * training would otherwise go on with rows missing, doubled or in the wrong part.
     */
    static long dealtRows(Shard.Summary[] sums, String what) {
        int p = sums.length;
        long n = 0;
        for (Shard.Summary s : sums) {
            n += s.rows();
        }
        for (int w = 0; w < p; w++) {
            Shard.Summary s = sums[w];
            if (s.partition() != w) {
                throw new IllegalStateException("worker " + w + " has no shard (got the shard of worker "
                        + s.partition() + ")");
            }
            if (s.rows() != rowsOf(n, w, p) || s.strayRow() >= 0) {
                throw new IllegalArgumentException(what + " changed while it was read: worker " + w + " of " + p
                        + " holds " + s.rows() + " rows" + (s.strayRow() >= 0 ? " including input row "
                        + s.strayRow() + ", out of its place," : "") + " where dealing " + n + " rows gives it "
                        + rowsOf(n, w, p) + " (rows " + w + ", " + (w + p) + ", " + (w + 2L * p) + "...). The "
                        + "input must give the same rows in the same order every time it is read: cache or "
                        + "checkpoint a DataFrame built with rand(), limit() without orderBy() or a source that "
                        + "changes, and give every executor the same files");
            }
        }
        return n;
    }

    /** Persists shards, marks them for clean-up. */
    private static JavaRDD<Shard> prepare(JavaRDD<Shard> shards, JavaSparkContext jsc, String description,
                                          List<JavaRDD<Shard>> cached) {
        jsc.setJobDescription(description);
        JavaRDD<Shard> s = shards.persist(StorageLevel.MEMORY_AND_DISK());
        cached.add(s);
        return s;
    }

    /** Builds (and caches) the shards of p workers; fails with the first bad row of the input, if any. */
    private static Shard.Summary[] summaries(JavaRDD<Shard> shards, int p) {
        List<Shard.Summary> list = shards.map(s -> s.summary(p)).collect();
        Shard.Summary[] sums = list.toArray(new Shard.Summary[0]);
        Arrays.sort(sums, (a, b) -> Integer.compare(a.partition(), b.partition()));
        Shard.Summary worst = null;
        for (Shard.Summary s : sums) {
            if (s.error() != null && (worst == null || s.badRow() < worst.badRow())) {
                worst = s;
            }
        }
        if (worst != null) {
            throw new IllegalArgumentException(worst.error());
        }
        return sums;
    }

    /** Per-feature statistics of the training rows, in two passes (sums, then squared deviations). */
    private static FeatureStats featureStats(JavaRDD<Shard> shards, int[] trainRows) {
        int p = trainRows.length;
        Results.Columns m = OrderedTree.aggregate(shards.mapPartitionsWithIndex((i, it) ->
                List.of(new Tuple2<>(i, Tasks.moments(it.next(), trainRows[i]))).iterator(), true), p,
                new Results.ColumnsReduction());
        double[] mean = new double[m.sum.length];
        for (int j = 0; j < mean.length; j++) {
            mean[j] = m.sum[j] / m.count;
        }
        Results.Columns q = OrderedTree.aggregate(shards.mapPartitionsWithIndex((i, it) ->
                List.of(new Tuple2<>(i, Tasks.squares(it.next(), trainRows[i], mean))).iterator(), true), p,
                new Results.ColumnsReduction());
        double[] std = new double[mean.length];
        for (int j = 0; j < std.length; j++) {
            std[j] = Math.sqrt(q.squares[j] / q.count);
        }
        return new FeatureStats(m.count, m.min, m.max, mean, std);
    }

    /** One fit's driver loop: epochs of rounds, with the callbacks, validation and history of {@code fit}. */
    private final class Run {
        private final Sequential model;
        private final TrainingTarget target;
        private final Loss loss;
        private final Fit fit;
        private final Schedule plan;
        private final JavaSparkContext jsc;
        private final JavaRDD<Shard> shards;
        private final JavaRDD<Shard> valShards;
        private final Broadcast<String> config;
        private final int threads;
        private final boolean splitValidation;
        private final int parameters;
        private float[] params;
        private float[] slots;
        private long step;
        int rounds;

        Run(Sequential model, TrainingTarget target, Loss loss, Fit fit, Schedule plan, JavaSparkContext jsc,
            JavaRDD<Shard> shards, JavaRDD<Shard> valShards, Broadcast<String> config, int threads,
            boolean splitValidation) {
            this.model = model;
            this.target = target;
            this.loss = loss;
            this.fit = fit;
            this.plan = plan;
            this.jsc = jsc;
            this.shards = shards;
            this.valShards = valShards;
            this.config = config;
            this.threads = threads;
            this.splitValidation = splitValidation;
            var s = model.state();
            this.params = s.parameters();
            this.parameters = params.length;
            this.slots = s.optimizer().slots();
            this.step = s.optimizer().step();
        }

        History epochs() {
            double accuracyDivisor = loss.accuracyDivisor(model.outputSize());
            int stepsPerEpoch = plan.stepsPerEpoch();
            int roundsPerEpoch = plan.roundsPerEpoch();
            History history = new History();
            List<Callback> callbacks = fit.callbacks();
            Cancellation cancellation = fit.cancellation();
            TrainableModel trainable = target.model();
            for (Callback c : callbacks) {
                c.onTrainBegin(trainable, fit, stepsPerEpoch);
            }
            epochs:
            for (int epoch = fit.initialEpoch(); epoch < fit.epochs(); epoch++) {
                for (Callback c : callbacks) {
                    c.onEpochBegin(epoch);
                }
                long t0 = System.nanoTime();
                double lossSum = 0;
                double correct = 0;
                double rows = 0;
                double lastLr = Double.NaN;
                for (int r = 0; r < roundsPerEpoch; r++) {
                    if (cancellation != null && cancellation.isCancelled()) {
                        history.markCancelled();
                        toModel();
                        break epochs;
                    }
                    long stepBefore = step;
                    Results.Average avg = round(epoch, r, roundsPerEpoch);
                    lastLr = target.optimizer().schedule().at(stepBefore + plan.steps(r) - 1, epoch);
                    lossSum += avg.lossSum;
                    correct += avg.correct;
                    rows += avg.statRows;
                    for (Callback c : callbacks) {
                        c.onBatchProgress(epoch, Math.min((r + 1) * plan.h, stepsPerEpoch), lossSum / rows,
                                correct / (rows * accuracyDivisor));
                    }
                }
                toModel();
                double[] val = validate(epoch);
                EpochLog log = new EpochLog(epoch, lossSum / rows,
                        loss.hasAccuracy() ? correct / (rows * accuracyDivisor) : Double.NaN, val[0],
                        loss.hasAccuracy() ? val[1] : Double.NaN, lastLr, (System.nanoTime() - t0) / 1e9);
                history.add(log);
                boolean stop = false;
                for (Callback c : callbacks) {
                    stop |= c.onEpochEnd(trainable, log);
                }
                if (stop && epoch + 1 < fit.epochs()) {
                    history.markStoppedEarly();
                    break;
                }
            }
            for (Callback c : callbacks) {
                c.onTrainEnd(trainable, history);
            }
            return history;
        }

        /** One round: broadcast, one Spark job of local steps and the ordered tree average, the new state. */
        private Results.Average round(int epoch, int r, int roundsPerEpoch) {
            long t0 = System.nanoTime();
            Results.State state = new Results.State(params, Results.split(slots, parameters), step);
            Broadcast<Results.State> b = jsc.broadcast(state);
            Results.Average avg;
            try {
                jsc.setJobDescription("dense4j: epoch " + (epoch + 1) + "/" + fit.epochs() + ", round " + (r + 1) + "/"
                        + roundsPerEpoch);
                Schedule plan = this.plan;
                Broadcast<String> config = this.config;
                int threads = this.threads;
                JavaRDD<Tuple2<Integer, Results.Worker>> leaves = shards.mapPartitionsWithIndex((i, it) ->
                        List.of(new Tuple2<>(i, Tasks.trainRound(it.next(), plan, epoch, r, config.value(), b.value(),
                                threads))).iterator(), true);
                avg = OrderedTree.aggregate(leaves, plan.workers, new Results.RoundReduction(plan.rows(r)));
            } finally {
                b.destroy();
            }
            if (avg.error != null) {
                throw avg.nonFiniteLoss ? new NonFiniteLossException(avg.error) : new IllegalStateException(avg.error);
            }
            params = toFloats(avg.params);
            slots = null;
            for (int k = 0; k < avg.slots.length; k++) {
                if (avg.slots[k] != null) {
                    if (slots == null) {
                        slots = new float[OptimizerState.SLOTS * parameters];
                    }
                    for (int i = 0; i < parameters; i++) {
                        slots[k * parameters + i] = (float) avg.slots[k][i];
                    }
                }
            }
            step += avg.steps;
            rounds++;
            if (listener != null) {
                listener.onRound(new RoundStats(epoch, r, roundsPerEpoch, avg.steps, avg.rows, avg.workers,
                        (System.nanoTime() - t0) / 1e9, state.payloadBytes(), avg.payloadBytes,
                        avg.lossSum / avg.statRows));
            }
            return avg;
        }

        /** The driver's model takes the current average (for callbacks, validation on the driver, the result). */
        private void toModel() {
            model.setParameters(params);
            model.setOptimizerState(new OptimizerState(step, slots));
        }

        /** {validation loss, validation accuracy}, NaN without validation. */
        private double[] validate(int epoch) {
            JavaRDD<Shard> on = splitValidation ? shards : valShards;
            if (on != null) {
                Broadcast<Results.State> b = jsc.broadcast(new Results.State(params, Results.split(slots, parameters),
                        step));
                try {
                    jsc.setJobDescription("dense4j: epoch " + (epoch + 1) + "/" + fit.epochs() + ", validation");
                    int[] from = new int[plan.workers];
                    if (splitValidation) {
                        from = plan.trainRows.clone();
                    }
                    int[] first = from;
                    Broadcast<String> config = this.config;
                    int threads = this.threads;
                    Results.Stats st = OrderedTree.aggregate(on.mapPartitionsWithIndex((i, it) ->
                            List.of(new Tuple2<>(i, Tasks.evaluate(it.next(), first[i], config.value(), b.value(),
                                    threads))).iterator(), true), plan.workers, new Results.StatsReduction());
                    if (st.error() != null) {
                        throw new IllegalStateException(st.error());
                    }
                    return new double[] {st.lossSum() / st.rows(),
                            st.correct() / (st.rows() * loss.accuracyDivisor(model.outputSize()))};
                } finally {
                    b.destroy();
                }
            }
            if (fit.validationData() != null) {
                Evaluation e = Evaluator.evaluate(target, fit.validationData());
                return new double[] {e.loss(), e.accuracy()};
            }
            return new double[] {Double.NaN, Double.NaN};
        }
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }
}
