package io.dense4j.bench;

import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.data.Mnist;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * The reference workload end to end (784-128-10, Adam 1e-3, batch 32, 5 epochs, MNIST-format data): training
 * time, test accuracy, peak RSS and single-row predict latency in Dense4J, then (when python3 with torch is
 * installed) the same workload in PyTorch in the same run, with the ratio.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.ReferenceWorkload
 * [data-dir] [epochs] [batch] [threads] [--no-torch]}
 */
public final class ReferenceWorkload {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "/usr/share/datasets/fashion-mnist");
        int epochs = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        boolean torch = !Arrays.asList(args).contains("--no-torch");
        Dense4J.setThreads(threads);
        System.out.printf("machine: %d cores, %s; OpenBLAS threads %d%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("os.arch"), Dense4J.threads());

        double trainSeconds;
        double accuracy;
        try (Mnist.Data data = Mnist.load(dir);
             Sequential model = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX))) {
            model.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            long t0 = System.nanoTime();
            History h = model.fit(data.train(), Fit.epochs(epochs).batchSize(batch).seed(42));
            trainSeconds = (System.nanoTime() - t0) / 1e9;
            h.epochs().forEach(e -> System.out.println("dense4j " + e.summary(epochs)));
            Evaluation e = model.evaluate(data.test());
            accuracy = e.accuracy();
            double[] latency = singleRowLatencyMicros(model, data.test().features().row(0), 20000);
            System.out.printf("dense4j: train %.3f s (%.3f s/epoch), test accuracy %.4f, peak RSS %d MiB, "
                            + "predict 1 row median %.1f us (p99 %.1f us)%n",
                    trainSeconds, trainSeconds / epochs, accuracy, peakRssMiB(), latency[0], latency[1]);
        }
        if (!torch) {
            return;
        }
        Map<String, Object> pt = runPyTorch(dir, epochs, batch);
        if (pt == null) {
            System.out.println("pytorch: not run (no python3 with torch: apt-get install python3-torch, or set D4J_PYTHON)");
            return;
        }
        double ptSeconds = ((Number) pt.get("train_seconds")).doubleValue();
        System.out.printf("pytorch %s (%s threads): train %.3f s, test accuracy %.4f%n", pt.get("torch"), pt.get("threads"),
                ptSeconds, ((Number) pt.get("test_accuracy")).doubleValue());
        System.out.printf("ratio: dense4j is %.1fx faster than pytorch at training%n", ptSeconds / trainSeconds);
    }

    /** Median and 99th percentile of predict(one row), after a warm-up. */
    static double[] singleRowLatencyMicros(Sequential model, float[] row, int n) {
        for (int i = 0; i < 5000; i++) {
            model.predict(row);
        }
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            model.predict(row);
            t[i] = System.nanoTime() - s;
        }
        Arrays.sort(t);
        return new double[] {t[n / 2] / 1e3, t[(int) (n * 0.99)] / 1e3};
    }

    /** VmHWM of this process (Linux). */
    static long peakRssMiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
            }
        }
        return -1;
    }

    static Map<String, Object> runPyTorch(Path dir, int epochs, int batch) throws Exception {
        java.util.List<Map<String, Object>> r = PyTorch.run(dir, epochs, Integer.toString(batch), 2);
        return r == null ? null : r.get(r.size() - 1);
    }
}
