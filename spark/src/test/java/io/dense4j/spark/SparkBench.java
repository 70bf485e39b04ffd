package io.dense4j.spark;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;

/**
 * The reference workload (784-128-10, Adam 1e-3, batch 32, seed 42, Fashion-MNIST) single-process and on Spark
 * local[1] and local[2] with H = 1, 16 and 128: seconds per epoch (median), test accuracy, rounds per second,
 * bytes per round, and the whole fit's seconds (which include reading, checking and caching the rows from a Parquet
 * table). Run by {@code spark/bench.sh}; prints a markdown table (and writes it to spark/target/spark-bench.md).
 *
 * <p>Arguments: {@code --data DIR} (default /usr/share/datasets/fashion-mnist), {@code --epochs N} (default 5),
 * {@code --h1-epochs N} (epochs of the H = 1 runs, default 1: a round per step makes them long), {@code --only
 * single} (the single-process line alone), {@code --masters local[1],local[2]}, {@code --h 1,16,128}, {@code
 * --h1-steps N} (cap the H = 1 runs' epoch at N local steps per worker, i.e. N rounds: their s / round, rounds / s
 * and bytes are measured on those rounds; their accuracy is then that of a partial epoch, not comparable).
 */
public final class SparkBench {
    private SparkBench() {}

    record Row(String setup, int workers, int h, int epochs, double secondsPerEpoch, double fitSeconds,
               double accuracy, int rounds,
               double roundsPerSecond, double medianRoundSeconds, long downBytes, long upBytes, long resultBytes) {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of("/usr/share/datasets/fashion-mnist");
        int epochs = 5;
        int h1Epochs = 1;
        int h1Steps = 0;
        boolean singleOnly = false;
        List<String> masters = List.of("local[1]", "local[2]");
        List<Integer> hs = List.of(1, 16, 128);
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> dir = Path.of(args[++i]);
                case "--epochs" -> epochs = Integer.parseInt(args[++i]);
                case "--h1-epochs" -> h1Epochs = Integer.parseInt(args[++i]);
                case "--h1-steps" -> h1Steps = Integer.parseInt(args[++i]);
                case "--only" -> singleOnly = args[++i].equals("single");
                case "--masters" -> masters = List.of(args[++i].split(","));
                case "--h" -> hs = Arrays.stream(args[++i].split(",")).map(Integer::valueOf).toList();
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        List<Row> rows = new ArrayList<>();
        StringBuilder md = new StringBuilder();
        md.append(String.format("load average before: %s; OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s%n%n", loadAverage(),
                System.getenv("OPENBLAS_CORETYPE"), System.getenv("OPENBLAS_L2_SIZE")));
        try (Mnist.Data data = Mnist.load(dir)) {
            try (Sequential m = reference()) {
                long t0 = System.nanoTime();
                History h = m.fit(data.train(), Fit.epochs(epochs).batchSize(32).seed(42));
                double fitSeconds = (System.nanoTime() - t0) / 1e9;
                rows.add(new Row("single process", 1, 0, epochs, median(h), fitSeconds,
                        m.evaluate(data.test()).accuracy(), 0, 0, 0, 0, 0, 0));
                System.out.println(rows.get(rows.size() - 1));
            }
            if (!singleOnly) {
                for (String master : masters) {
                    rows.addAll(onSpark(master, data, dir, epochs, h1Epochs, h1Steps, hs));
                }
            }
        }
        md.append("| setup | workers | H | epochs | s / epoch (median) | fit s (all) | test accuracy | rounds | rounds / s "
                + "| s / round (median) | down / round (broadcast x workers) | up / round (payload) "
                + "| up / round (task results, measured) |\n");
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %s | %d | %.2f | %.1f | %.4f | %s | %s | %s | %s | %s | %s |%n",
                    r.setup(), r.workers(), r.h() == 0 ? "-" : r.h(), r.epochs(), r.secondsPerEpoch(), r.fitSeconds(),
                    r.accuracy(),
                    r.rounds() == 0 ? "-" : r.rounds(), r.rounds() == 0 ? "-" : String.format(Locale.ROOT, "%.1f",
                            r.roundsPerSecond()), r.rounds() == 0 ? "-" : String.format(Locale.ROOT, "%.3f",
                            r.medianRoundSeconds()), r.rounds() == 0 ? "-" : bytes(r.downBytes()),
                    r.rounds() == 0 ? "-" : bytes(r.upBytes()), r.rounds() == 0 ? "-" : bytes(r.resultBytes())));
        }
        md.append(String.format("%nload average after: %s%n", loadAverage()));
        System.out.println();
        System.out.print(md);
        Path out = Path.of("spark/target").toFile().isDirectory() ? Path.of("spark/target/spark-bench.md")
                : Path.of("spark-bench.md");
        Files.writeString(out, md.toString());
        System.out.println("written to " + out);
    }

    static Sequential reference() {
        Sequential m = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    /** Every H on one master: a fresh local session with that many task slots, the same data. */
    static List<Row> onSpark(String master, Mnist.Data data, Path dir, int epochs, int h1Epochs, int h1Steps,
                             List<Integer> hs) {
        List<Row> rows = new ArrayList<>();
        SparkSession spark = SparkSession.builder().master(master).appName("dense4j-spark-bench")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
        AtomicLong resultBytes = new AtomicLong();
        spark.sparkContext().addSparkListener(new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (end.taskMetrics() != null) {
                    resultBytes.addAndGet(end.taskMetrics().resultSize());
                }
            }
        });
        try {
            int workers = spark.sparkContext().defaultParallelism();
            // the training rows as a Parquet table, as a cluster would hold them (written once, not timed)
            Path table = Path.of(System.getProperty("java.io.tmpdir"), "dense4j-spark-bench-" + ProcessHandle.current().pid()
                    + ".parquet");
            LocalSpark.frameIn(spark, data.train()).write().mode("overwrite").parquet(table.toString());
            var frame = spark.read().parquet(table.toString());
            for (int h : hs) {
                int e = h == 1 ? Math.min(h1Epochs, epochs) : epochs;
                List<RoundStats> stats = new ArrayList<>();
                resultBytes.set(0);
                try (Sequential m = reference()) {
                    SparkTrainer t = SparkTrainer.builder().averagingFrequency(h).workers(workers).onRound(stats::add)
                            .build();
                    long t0 = System.nanoTime();
                    Fit fit = Fit.epochs(e).batchSize(32).seed(42);
                    if (h == 1 && h1Steps > 0) {
                        fit = fit.stepsPerEpoch(h1Steps);
                    }
                    History hist = t.fit(m, frame, fit);
                    double fitSeconds = (System.nanoTime() - t0) / 1e9;
                    long before = resultBytes.get();
                    double[] secs = stats.stream().mapToDouble(RoundStats::seconds).sorted().toArray();
                    double total = Arrays.stream(secs).sum();
                    RoundStats any = stats.get(stats.size() - 1); // the first round broadcasts no optimizer state
                    String setup = "Spark " + master + (h == 1 && h1Steps > 0 ? " (" + h1Steps + " steps / epoch)" : "");
                    rows.add(new Row(setup, workers, h, e, median(hist), fitSeconds,
                            m.evaluate(data.test()).accuracy(), stats.size(), stats.size() / total, secs[secs.length / 2],
                            any.broadcastBytes() * workers, any.resultBytes(), before / Math.max(1, stats.size())));
                    System.out.println(rows.get(rows.size() - 1));
                }
            }
        } finally {
            spark.stop();
        }
        return rows;
    }

    static double median(History h) {
        double[] s = h.epochs().stream().mapToDouble(EpochLog::seconds).sorted().toArray();
        return s[s.length / 2];
    }

    static String bytes(long b) {
        return b >= 1 << 20 ? String.format(Locale.ROOT, "%.2f MiB", b / 1048576.0)
                : String.format(Locale.ROOT, "%.0f KiB", b / 1024.0);
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }
}
