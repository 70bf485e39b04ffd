package io.dense4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dense4j.Model;
import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.FeatureStats;
import io.dense4j.data.Normalizer;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.model.ModelState;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Callback;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import io.dense4j.train.ModelCheckpoint;
import io.dense4j.train.NonFiniteLossException;
import io.dense4j.train.TrainableModel;
import io.dense4j.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.ml.feature.LabeledPoint;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SparkTrainer in local[2] (with task retries): semantics, determinism, retries, bad input, callbacks, inputs. */
class SparkTrainerTest {
    static SparkSession spark;
    /** 1,203 rows, 6 features, 3 classes (not a multiple of the batch or of the workers). */
    static List<float[]> x = new ArrayList<>();
    static List<Integer> y = new ArrayList<>();

    @BeforeAll
    static void start() {
        spark = LocalSpark.session();
        Random r = new Random(5);
        for (int i = 0; i < 1203; i++) {
            int c = r.nextInt(3);
            float[] row = new float[6];
            for (int j = 0; j < 6; j++) {
                row[j] = (float) (r.nextGaussian() + (j % 3 == c ? 1.5 : 0));
            }
            x.add(row);
            y.add(c);
        }
    }

    @AfterEach
    void noHook() {
        Tasks.hook = null;
    }

    static org.apache.spark.sql.Dataset<Row> blobs() {
        StructType schema = new StructType()
                .add("features", DataTypes.createArrayType(DataTypes.FloatType, false), false)
                .add("label", DataTypes.IntegerType, false);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < x.size(); i++) {
            rows.add(RowFactory.create(x.get(i), y.get(i)));
        }
        return spark.createDataFrame(rows, schema);
    }

    static Dataset blobsDataset() {
        return Dataset.of(x.toArray(new float[0][]), y.stream().mapToInt(Integer::intValue).toArray(), 3, List.of());
    }

    static Sequential model() {
        Sequential m = Sequential.of(Dense.of(6, 16, Activation.RELU), Dropout.of(0.1), Dense.of(3, Activation.SOFTMAX));
        m.compile(Optimizers.adam(3e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    static SparkTrainer trainer(int h) {
        return SparkTrainer.builder().averagingFrequency(h).workers(2).build();
    }

    /**
     * One round is what its definition says: each worker runs H steps of Trainer.trainOnBatches from the same
     * state on its rows (row i to worker i mod 2) in its epoch order, and the model becomes
     * ModelState.weightedAverage of the workers' states, weighted by their rows: bit for bit, optimizer buffers too.
     */
    @Test
    void aRoundIsTheWeightedAverageOfTheWorkersLocalSteps() {
        int h = 5;
        try (Sequential spark = model(); Sequential start = model()) {
            spark.initialize(7);
            start.initialize(7);
            ModelState s0 = start.state();
            History hist = trainer(h).fit(spark, blobs(), Fit.epochs(1).batchSize(32).seed(11).stepsPerEpoch(h));
            assertEquals(1, hist.epochs().size());

            int[] trainRows = {602, 601};
            Schedule plan = new Schedule(32, h, h, true, 11, trainRows);
            List<ModelState> states = new ArrayList<>();
            double[] weights = new double[2];
            double lossSum = 0;
            double rows = 0;
            for (int p = 0; p < 2; p++) {
                int[] order = plan.order(p, 0);
                int n = plan.rowTo(p, 0) - plan.rowFrom(p, 0);
                assertEquals(h * 32, n);
                float[][] fx = new float[n][];
                int[] fy = new int[n];
                for (int i = 0; i < n; i++) {
                    int input = order[i] * 2 + p; // the worker's order[i]-th row is input row order[i] * 2 + p
                    fx[i] = x.get(input);
                    fy[i] = y.get(input);
                }
                try (Sequential w = Sequential.fromState(s0); Dataset d = Dataset.of(fx, fy, 3, List.of())) {
                    var st = Trainer.trainOnBatches(w.trainingTarget(), d, 32, 0, plan.dropoutSeed(p, 0, 0));
                    lossSum += st.lossSum();
                    rows += st.rows();
                    states.add(w.state());
                    weights[p] = n;
                }
            }
            ModelState avg = ModelState.weightedAverage(states, weights);
            ModelState got = spark.state();
            assertArrayEquals(avg.parameters(), got.parameters());
            assertEquals(avg.optimizer(), got.optimizer());
            assertEquals(h, got.optimizer().step());
            assertEquals(lossSum / rows, hist.last().loss(), 1e-12);
            Map<String, Object> rec = spark.trainingInfo();
            assertEquals(1, rec.get("epochs_run"));
            assertEquals(h, rec.get("steps_per_epoch"));
            @SuppressWarnings("unchecked")
            Map<String, Object> dist = (Map<String, Object>) rec.get("distributed");
            assertEquals(2, dist.get("workers"));
            assertEquals(h, dist.get("averaging_frequency"));
            assertEquals(1, dist.get("rounds"));
        }
    }

    /**
     * The same seed, workers and H give the same model bit for bit, also when a task fails once after training
     * and Spark retries it (local[2,4]); another H gives another model (the comparison can fail).
     */
    @Test
    void deterministicAndRetriedTasksGiveTheSameResult() {
        Fit fit = Fit.epochs(2).batchSize(32).seed(3);
        float[] first;
        History h1;
        try (Sequential m = model()) {
            h1 = trainer(4).fit(m, blobs(), fit);
            first = m.parameters();
        }
        try (Sequential m = model()) {
            History h2 = trainer(4).fit(m, blobs(), fit);
            assertArrayEquals(first, m.parameters());
            assertEquals(h1.asMap().get("loss"), h2.asMap().get("loss"));
        }
        AtomicInteger thrown = new AtomicInteger();
        AtomicInteger retried = new AtomicInteger();
        Tasks.hook = (epoch, round, partition, attempt) -> {
            if (epoch == 1 && round == 3 && partition == 1) {
                if (attempt == 0) {
                    thrown.incrementAndGet();
                    throw new IllegalStateException("injected failure of worker 1 in epoch 2, round 4");
                }
                retried.incrementAndGet();
            }
        };
        try (Sequential m = model()) {
            History h3 = trainer(4).fit(m, blobs(), fit);
            assertEquals(1, thrown.get());
            assertEquals(1, retried.get());
            assertArrayEquals(first, m.parameters());
            assertEquals(h1.asMap().get("loss"), h3.asMap().get("loss"));
        }
        Tasks.hook = null;
        try (Sequential m = model()) {
            trainer(5).fit(m, blobs(), fit);
            assertFalse(java.util.Arrays.equals(first, m.parameters()));
        }
    }

    /**
     * Each task's kernels run on its own team of threadsPerTask threads (two tasks of one executor at once get two
     * teams, not one shared pool), the process-wide count is left as it was, and the model is the one-thread model.
     */
    @Test
    void eachTaskTrainsOnItsOwnTeamOfThreadsPerTask() {
        Fit fit = Fit.epochs(2).seed(7);
        float[] oneThread;
        try (Sequential m = model()) {
            SparkTrainer.builder().averagingFrequency(4).workers(2).threadsPerTask(1).build().fit(m, blobs(), fit);
            oneThread = m.parameters();
        }
        int before = Dense4J.threads();
        java.util.Set<Integer> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
        Tasks.hook = (epoch, round, partition, attempt) -> seen.add(Dense4J.threads());
        try (Sequential m = model()) {
            SparkTrainer.builder().averagingFrequency(4).workers(2).threadsPerTask(3).build().fit(m, blobs(), fit);
            assertEquals(java.util.Set.of(3), seen, "the task threads' kernel team sizes");
            assertEquals(before, Dense4J.threads(), "the process-wide count is not the tasks' business");
            assertArrayEquals(oneThread, m.parameters(), 1e-5f);
        }
    }

    /** A task that fails on every attempt fails the fit with its message once Spark's retries are spent. */
    @Test
    void aTaskFailingEveryAttemptFailsTheFit() {
        AtomicInteger attempts = new AtomicInteger();
        Tasks.hook = (epoch, round, partition, attempt) -> {
            if (partition == 0) {
                attempts.incrementAndGet();
                throw new IllegalStateException("worker 0 always fails");
            }
        };
        try (Sequential m = model()) {
            Exception e = assertThrows(Exception.class, () -> trainer(4).fit(m, blobs(), Fit.epochs(1).seed(1)));
            assertTrue(String.valueOf(e.getMessage()).contains("worker 0 always fails"), e.getMessage());
            assertEquals(4, attempts.get());
        }
    }

    /**
     * Bad input is refused with a message naming what and where, before any round ships work: missing columns,
     * wrong types, wrong widths, NaN features, labels out of range or not integral, nulls.
     */
    @Test
    void badInputFailsBeforeAnyRound() {
        AtomicInteger rounds = new AtomicInteger();
        SparkTrainer t = SparkTrainer.builder().workers(2).averagingFrequency(4).onRound(s -> rounds.incrementAndGet())
                .build();
        try (Sequential m = model()) {
            float[] before = m.parameters();
            var e = assertThrows(IllegalArgumentException.class,
                    () -> t.fit(m, blobs().withColumnRenamed("features", "pixels"), Fit.epochs(1)));
            assertTrue(e.getMessage().contains("training data has no column 'features' (its columns: pixels, label)"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> t.fit(m, blobs().selectExpr("features", "'cat' as label"), Fit.epochs(1)));
            assertTrue(e.getMessage().contains("column 'label' is string"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> t.fit(m, blobs().selectExpr("features[0] as features", "label"), Fit.epochs(1)));
            assertTrue(e.getMessage().contains("features column 'features' is float"), e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> t.fit(m, blobs().selectExpr(
                    "case when label = 2 then slice(features, 1, 5) else features end as features", "label"),
                    Fit.epochs(1)));
            assertTrue(e.getMessage().matches("training data row \\d+: column 'features' has 5 values, the model takes 6"),
                    e.getMessage());
            int firstTwo = y.indexOf(2);
            assertTrue(e.getMessage().startsWith("training data row " + firstTwo + ":"), e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> t.fit(m, blobs().selectExpr(
                    "transform(features, (v, j) -> case when j = 4 and v > 2.5 then float('NaN') else v end) as features",
                    "label"), Fit.epochs(1)));
            assertTrue(e.getMessage().contains("column 'features' value 4 is NaN (inputs must be finite)"),
                    e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> t.fit(m, blobs().selectExpr("features",
                    "case when label = 1 then 3 else label end as label"), Fit.epochs(1)));
            assertTrue(e.getMessage().contains("column 'label' is class 3, outside [0, 3) for a model with 3 outputs"),
                    e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> t.fit(m, blobs().selectExpr("features",
                    "label + 0.5 as label"), Fit.epochs(1)));
            assertTrue(e.getMessage().contains("column 'label' is 0.5, not a class index")
                    || e.getMessage().contains("is 1.5, not a class index") || e.getMessage().contains("is 2.5, not"),
                    e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> t.fit(m, blobs().selectExpr(
                    "case when label = 0 then null else features end as features", "label"), Fit.epochs(1)));
            assertTrue(e.getMessage().contains("column 'features' is null"), e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> t.fit(m, blobs().limit(0), Fit.epochs(1)));
            assertEquals("training data has no rows", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> SparkTrainer.builder().workers(2000).build()
                    .fit(m, blobs(), Fit.epochs(1)));
            assertTrue(e.getMessage().contains("1203 training rows for 2000 workers"), e.getMessage());

            assertEquals(0, rounds.get(), "no round ran");
            assertArrayEquals(before, m.parameters(), "the model is untouched");
        }
    }

    /**
     * Files read per partition: a malformed CSV fails the fit before any round with the reader's own line and column
     * (not as a file the executors cannot see); a path no executor can read says so.
     */
    @Test
    void badFilesFailBeforeAnyRound(@TempDir Path dir) throws Exception {
        StringBuilder csv = new StringBuilder("a,b,c,d,e,f,label\n");
        for (int i = 0; i < 40; i++) {
            for (int j = 0; j < 6; j++) {
                csv.append(i == 17 && j == 3 ? "nan" : String.valueOf(x.get(i)[j])).append(',');
            }
            csv.append(y.get(i)).append('\n');
        }
        Path bad = Files.writeString(dir.resolve("bad.csv"), csv);
        AtomicInteger rounds = new AtomicInteger();
        SparkTrainer t = SparkTrainer.builder().workers(2).onRound(s -> rounds.incrementAndGet()).build();
        try (Sequential m = model()) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> t.fit(m, SparkData.csv(spark, bad, io.dense4j.data.Csv.options()), Fit.epochs(1)));
            assertEquals("training data: " + bad + ": line 19, column 4 ('d'): missing value 'nan'", e.getMessage());
            Path missing = dir.resolve("missing.csv");
            e = assertThrows(IllegalArgumentException.class,
                    () -> t.fit(m, SparkData.csv(spark, missing, io.dense4j.data.Csv.options()), Fit.epochs(1)));
            assertTrue(e.getMessage().startsWith("training data: worker 0 cannot read " + missing), e.getMessage());
            assertEquals(0, rounds.get());
        }
    }

    /** Reads of id 10 so far, by the filter of {@link #aDataFrameThatChangesBetweenReadsIsRefused}. */
    static final AtomicInteger readsOfRow10 = new AtomicInteger();

    /**
     * A DataFrame that gives other rows on another read (here a nondeterministic filter drops row 10 from the
     * second read on, after Spark's zipWithIndex has counted the first partition with it) is refused before any
     * round, naming the worker and the row out of place, rather than trained with rows shifted between workers.
     */
    @Test
    void aDataFrameThatChangesBetweenReadsIsRefused() {
        readsOfRow10.set(0);
        UserDefinedFunction keep = functions.udf((UDF1<Long, Boolean>) id -> id != 10
                || readsOfRow10.getAndIncrement() == 0, DataTypes.BooleanType).asNondeterministic();
        var changing = spark.range(0, 100, 1, 2).filter(keep.apply(functions.col("id")))
                .selectExpr("array_repeat(cast(id % 7 as float), 6) as features", "cast(id % 3 as int) as label");
        AtomicInteger rounds = new AtomicInteger();
        try (Sequential m = model()) {
            float[] before = m.parameters();
            var e = assertThrows(IllegalArgumentException.class, () -> SparkTrainer.builder().workers(2)
                    .onRound(s -> rounds.incrementAndGet()).build().fit(m, changing, Fit.epochs(1).seed(1)));
            assertTrue(readsOfRow10.get() >= 2, "row 10 was read twice: " + readsOfRow10.get());
            assertTrue(e.getMessage().startsWith("training data changed while it was read: worker 1 of 2 holds 49 "
                    + "rows including input row 51, out of its place, where dealing 99 rows gives it 49"),
                    e.getMessage());
            assertEquals(0, rounds.get());
            assertArrayEquals(before, m.parameters());
        }
        // the same DataFrame, cached and counted first, reads the same rows every time and trains
        readsOfRow10.set(0);
        var cached = changing.cache();
        assertEquals(100, cached.count());
        try (Sequential m = model()) {
            History h = SparkTrainer.builder().workers(2).build().fit(m, cached, Fit.epochs(1).seed(1));
            assertEquals(1, h.epochs().size());
        } finally {
            cached.unpersist();
        }
    }

    /** The rows dealt to worker w of p are w, w + p, w + 2p... below n. */
    @Test
    void rowsOfCountsAStride() {
        for (int n = 0; n <= 23; n++) {
            for (int p = 1; p <= 7; p++) {
                long total = 0;
                for (int w = 0; w < p; w++) {
                    long expected = 0;
                    for (int i = w; i < n; i += p) {
                        expected++;
                    }
                    assertEquals(expected, SparkTrainer.rowsOf(n, w, p), "n " + n + ", w " + w + ", p " + p);
                    total += expected;
                }
                assertEquals(n, total);
            }
        }
    }

    /**
     * Callbacks see what fit shows them: progress after every round, epoch logs with validation (a validation
     * split, evaluated on the executors), EarlyStopping that stops and restores, checkpoints that load.
     */
    @Test
    void callbacksValidationEarlyStoppingAndCheckpoints(@TempDir Path dir) {
        List<Integer> progress = new ArrayList<>();
        List<RoundStats> rounds = new ArrayList<>();
        Callback watch = new Callback() {
            @Override
            public void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {
                progress.add(stepsDone);
            }
        };
        EarlyStopping stop = new EarlyStopping("val_accuracy", 0, 1.0, true); // never improves by 1.0: stops after 2
        SparkTrainer t = SparkTrainer.builder().workers(2).averagingFrequency(8).onRound(rounds::add).build();
        try (Sequential m = model()) {
            History h = t.fit(m, blobs(), Fit.epochs(6).batchSize(32).seed(2).validationSplit(0.2)
                    .callbacks(watch, stop, ModelCheckpoint.everyEpoch(dir.resolve("ckpt-{epoch}.d4j").toString())));
            assertEquals(2, h.epochs().size());
            assertTrue(h.stoppedEarly());
            // 962 training rows: 481 per worker, 16 steps (the last of 1 row): two rounds of 8 steps per epoch
            assertEquals(List.of(8, 16, 8, 16), progress);
            assertEquals(4, rounds.size());
            assertEquals(8, rounds.get(1).steps());
            assertEquals(2 * (481 - 8 * 32), rounds.get(1).rows());
            EpochLog last = h.last();
            assertTrue(last.hasValidation());
            assertTrue(last.valAccuracy() > 0.5 && last.valAccuracy() <= 1, "val accuracy " + last.valAccuracy());
            assertTrue(Files.exists(dir.resolve("ckpt-1.d4j")) && Files.exists(dir.resolve("ckpt-2.d4j")));
            try (Model first = Model.load(dir.resolve("ckpt-1.d4j"))) {
                // restore_best_weights: the model ends with epoch 1's weights, which the first checkpoint saved
                assertArrayEquals(first.predict(x.get(0)), m.predict(x.get(0)));
            }
            assertEquals(32, m.optimizerStep());
            assertTrue(rounds.get(0).broadcastBytes() > 0 && rounds.get(0).resultBytes() > 0);
        }
    }

    /** A validation DataFrame is evaluated on the executors with the driver's model: the same figures. */
    @Test
    void validationDataFrameMatchesEvaluateOnTheDriver() {
        try (Sequential m = model(); Dataset all = blobsDataset()) {
            History h = trainer(16).fit(m, blobs(), blobs().limit(300), Fit.epochs(1).seed(8));
            int[] first300 = new int[300];
            java.util.Arrays.setAll(first300, i -> i);
            try (Dataset v = all.subset(first300)) {
                var e = m.evaluate(v);
                assertEquals(e.loss(), h.last().valLoss(), 1e-6);
                assertEquals(e.accuracy(), h.last().valAccuracy(), 1e-9);
            }
            // validation data held by the driver: evaluated there, after each epoch
            try (Dataset v = all.subset(first300)) {
                History hv = trainer(16).fit(m, blobs(), Fit.epochs(1).seed(8).validationData(v));
                var e = m.evaluate(v);
                assertEquals(e.loss(), hv.last().valLoss(), 1e-12);
                assertEquals(e.accuracy(), hv.last().valAccuracy(), 1e-12);
            }
            var bad = assertThrows(IllegalArgumentException.class, () -> trainer(16).fit(m, blobs(), blobs(),
                    Fit.epochs(1).validationSplit(0.1)));
            assertTrue(bad.getMessage().contains("not both"), bad.getMessage());
        }
    }

    /** ML vectors and arrays of doubles hold the same numbers: the same model, bit for bit. */
    @Test
    void mlVectorColumnsTrainAsArrays() {
        StructType schema = new StructType().add("features", SQLDataTypes.VectorType(), false)
                .add("label", DataTypes.DoubleType, false);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < x.size(); i++) {
            double[] d = new double[6];
            for (int j = 0; j < 6; j++) {
                d[j] = x.get(i)[j];
            }
            rows.add(RowFactory.create(i % 2 == 0 ? Vectors.dense(d) : Vectors.dense(d).toSparse(), (double) y.get(i)));
        }
        Fit fit = Fit.epochs(1).seed(4);
        try (Sequential a = model(); Sequential b = model()) {
            trainer(8).fit(a, spark.createDataFrame(rows, schema), fit);
            trainer(8).fit(b, blobs(), fit);
            assertArrayEquals(b.parameters(), a.parameters());
        }
    }

    /**
     * An RDD of LabeledPoint read through two functions trains the model its DataFrame trains, bit for bit (the
     * rows are dealt by their position, whatever the input's partitioning); a bad row of an RDD (a NaN feature, a
     * function that throws) fails the fit before any round, naming the row.
     */
    @Test
    void rddsTrainAsTheirDataFrame() {
        List<LabeledPoint> points = new ArrayList<>();
        for (int i = 0; i < x.size(); i++) {
            double[] d = new double[6];
            for (int j = 0; j < 6; j++) {
                d[j] = x.get(i)[j];
            }
            points.add(new LabeledPoint(y.get(i), Vectors.dense(d)));
        }
        JavaRDD<LabeledPoint> rdd = JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(points, 3);
        Function<LabeledPoint, float[]> features = p -> {
            double[] d = p.features().toArray();
            float[] f = new float[d.length];
            for (int j = 0; j < d.length; j++) {
                f[j] = (float) d[j];
            }
            return f;
        };
        Fit fit = Fit.epochs(1).seed(6);
        AtomicInteger rounds = new AtomicInteger();
        SparkTrainer t = SparkTrainer.builder().averagingFrequency(8).workers(2).onRound(s -> rounds.incrementAndGet())
                .build();
        try (Sequential a = model(); Sequential b = model()) {
            t.fit(a, SparkData.rdd(spark, rdd, features, LabeledPoint::label), fit);
            trainer(8).fit(b, blobs(), fit);
            assertArrayEquals(b.parameters(), a.parameters());
        }
        rounds.set(0);
        try (Sequential m = model()) {
            float[] before = m.parameters();
            JavaRDD<LabeledPoint> nan = rdd.map(p -> p.features().apply(2) > 2.7
                    ? new LabeledPoint(p.label(), Vectors.dense(1, 2, Double.NaN, 4, 5, 6)) : p);
            var e = assertThrows(IllegalArgumentException.class,
                    () -> t.fit(m, SparkData.rdd(spark, nan, features, LabeledPoint::label), fit));
            int firstNan = -1;
            for (int i = 0; i < x.size() && firstNan < 0; i++) {
                firstNan = x.get(i)[2] > 2.7 ? i : -1;
            }
            assertTrue(e.getMessage().startsWith("training data row " + firstNan + ": column 'features' value 2 is NaN"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> t.fit(m, SparkData.rdd(spark, rdd, features,
                    p -> { if (p.label() == 2) { throw new IllegalStateException("no twos"); } return p.label(); }), fit));
            assertTrue(e.getMessage().startsWith("training data row " + y.indexOf(2)
                    + ": the features or label function failed: java.lang.IllegalStateException: no twos"), e.getMessage());
            assertEquals(0, rounds.get());
            assertArrayEquals(before, m.parameters());
        }
    }

    /**
     * A standardize preprocessing is fitted on the training rows across the workers, as a local fit would; then
     * validation data held by the driver is checked and evaluated with it.
     */
    @Test
    void preprocessingIsFittedOnTheTrainingRowsOfAllWorkers() {
        try (Sequential m = model(); Dataset all = blobsDataset(); Sequential v = model()) {
            v.preprocessing(Normalizer.standardize());
            History hv = trainer(16).fit(v, blobs(), Fit.epochs(1).seed(8).validationData(all));
            assertTrue(hv.last().hasValidation());
            m.preprocessing(Normalizer.standardize());
            trainer(16).fit(m, blobs(), Fit.epochs(1).seed(8).validationSplit(0.25));
            int[] train = new int[902]; // 1203 - round(1203 * 0.25)
            java.util.Arrays.setAll(train, i -> i);
            try (Dataset t = all.subset(train)) {
                Normalizer local = Normalizer.standardize().fit(FeatureStats.of(t.features()));
                @SuppressWarnings("unchecked")
                List<Number> mean = (List<Number>) m.preprocessing().config().get("mean");
                @SuppressWarnings("unchecked")
                List<Number> want = (List<Number>) local.config().get("mean");
                for (int j = 0; j < 6; j++) {
                    assertEquals(want.get(j).floatValue(), mean.get(j).floatValue(), 1e-6f);
                }
            }
        }
    }

    /** A loss that becomes NaN stops the fit with the worker, epoch and round that saw it. */
    @Test
    void aNonFiniteLossStopsTheFit() {
        try (Sequential m = Sequential.of(Dense.of(6, 3, Activation.SOFTMAX))) {
            m.compile(Optimizers.sgd(1e38), Losses.SPARSE_CATEGORICAL_CROSSENTROPY);
            var e = assertThrows(NonFiniteLossException.class, () -> trainer(4).fit(m, blobs(), Fit.epochs(3).seed(1)));
            assertTrue(e.getMessage().startsWith("worker "), e.getMessage());
            assertTrue(e.getMessage().contains("epoch 1, round"), e.getMessage());
        }
    }

    /**
     * A fit resumed from a checkpoint with optimizer state (initialEpoch) ends where the uninterrupted fit ends,
     * bit for bit: every shuffle and dropout mask is drawn from (seed, epoch, round, worker), and the state is the
     * driver's.
     */
    @Test
    void aFitResumedFromACheckpointMatchesTheUninterruptedOne(@TempDir Path dir) {
        Fit fit = Fit.epochs(3).batchSize(32).seed(6);
        float[] whole;
        try (Sequential m = model()) {
            trainer(8).fit(m, blobs(), fit.callbacks(
                    ModelCheckpoint.everyEpoch(dir.resolve("ck-{epoch}.d4j").toString()).withOptimizerState()));
            whole = m.parameters();
        }
        try (Sequential resumed = Sequential.load(dir.resolve("ck-1.d4j"))) {
            History h = trainer(8).fit(resumed, blobs(), fit.initialEpoch(1));
            assertEquals(2, h.epochs().size());
            assertEquals(1, h.epochs().get(0).epoch());
            assertArrayEquals(whole, resumed.parameters());
        }
    }

    /** A cancellation stops the fit between rounds; the model keeps the last round's average. */
    @Test
    void cancellationStopsBetweenRounds() {
        io.dense4j.train.Cancellation cancel = new io.dense4j.train.Cancellation();
        AtomicInteger rounds = new AtomicInteger();
        SparkTrainer t = SparkTrainer.builder().workers(2).averagingFrequency(4).onRound(s -> {
            if (rounds.incrementAndGet() == 3) {
                cancel.cancel();
            }
        }).build();
        try (Sequential m = model()) {
            History h = t.fit(m, blobs(), Fit.epochs(5).seed(1).cancellation(cancel));
            assertTrue(h.cancelled());
            assertEquals(3, rounds.get());
            assertEquals(12, m.optimizerStep());
            assertTrue(h.epochs().isEmpty());
        }
    }
}
