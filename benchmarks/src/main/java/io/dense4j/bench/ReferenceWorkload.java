package io.dense4j.bench;

import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.data.Mnist;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.bench.device.CpuOps;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The reference workload end to end (784-128-10, Adam 1e-3, batch 32, 5 epochs, MNIST-format data) at each
 * requested thread count: training time (median of repeats), test accuracy, peak RSS, single-row predict
 * latency (p50, p99) and a 256-row predict; then (when python3 with torch is installed) the same workload in
 * PyTorch at the same thread counts, in the same run, with the ratios. {@code --torch-openblas} gives PyTorch
 * the OpenBLAS library of the JavaCPP preset (LD_PRELOAD; it inherits OPENBLAS_CORETYPE), the GEMM Dense4J's own
 * kernels are measured against; without it PyTorch uses Debian's default BLAS.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.ReferenceWorkload
 * [data-dir] [epochs] [batch] [threads, e.g. 1 or 1,2] [--repeats N] [--no-torch] [--torch-openblas]
 * [--float-pixels]}. The training set is read as a user of the CLI and the server gets it: its pixels kept as bytes
 * ({@code Mnist.Pixels.UINT8}, converted while each batch is gathered); {@code --float-pixels} reads them as float32
 * (the same values and trained weights), for the A/B.
 */
public final class ReferenceWorkload {
    record Run(int threads, double seconds, List<Double> all, double accuracy, double p50, double p99, double batch256) {}

    public static void main(String[] args) throws Exception {
        List<String> positional = new ArrayList<>();
        boolean torch = true;
        boolean torchOpenBlas = false;
        Mnist.Pixels pixels = Mnist.Pixels.UINT8;
        int repeats = 1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--no-torch" -> torch = false;
                case "--torch-openblas" -> torchOpenBlas = true;
                case "--float-pixels" -> pixels = Mnist.Pixels.FLOAT32;
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                default -> positional.add(args[i]);
            }
        }
        Path dir = Path.of(positional.size() > 0 ? positional.get(0) : "/usr/share/datasets/fashion-mnist");
        int epochs = positional.size() > 1 ? Integer.parseInt(positional.get(1)) : 5;
        int batch = positional.size() > 2 ? Integer.parseInt(positional.get(2)) : 32;
        int[] threads = positional.size() > 3
                ? Arrays.stream(positional.get(3).split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {1};
        String coretype = System.getenv("OPENBLAS_CORETYPE");
        System.out.printf("machine: %s, %d cores; Dense4J kernels %s; OPENBLAS_CORETYPE=%s; load average %s; "
                        + "pixels %s%n", Suite.cpuModel(), Runtime.getRuntime().availableProcessors(),
                CpuOps.kernelVariant(), coretype == null ? "(unset)" : coretype, Suite.loadavg(), pixels);

        List<Run> runs = new ArrayList<>();
        try (Mnist.Data data = Mnist.load(dir, pixels)) {
            for (int t : threads) {
                Dense4J.setThreads(t);
                List<Double> secs = new ArrayList<>();
                double accuracy = Double.NaN;
                double[] latency = null;
                double b256 = Double.NaN;
                for (int r = 0; r < repeats; r++) {
                    try (Sequential model = Sequential.of(Dense.of(784, 128, Activation.RELU),
                            Dense.of(128, 10, Activation.SOFTMAX))) {
                        model.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
                        long t0 = System.nanoTime();
                        History h = model.fit(data.train(), Fit.epochs(epochs).batchSize(batch).seed(42));
                        secs.add((System.nanoTime() - t0) / 1e9);
                        if (r == 0) {
                            h.epochs().forEach(e -> System.out.println("dense4j " + t + " thread(s) " + e.summary(epochs)));
                            Evaluation e = model.evaluate(data.test());
                            accuracy = e.accuracy();
                            latency = singleRowLatencyMicros(model, data.test().features().row(0), 20000);
                            b256 = batchLatencyMicros(model, 256, 300);
                        }
                    }
                }
                double med = EndToEnd.median(secs);
                runs.add(new Run(t, med, secs, accuracy, latency[0], latency[1], b256));
                System.out.printf("dense4j %d thread(s): train %.3f s (%.3f s/epoch; all %s), test accuracy %.4f, "
                                + "predict 1 row median %.2f us (p99 %.2f us), predict 256 rows %.1f us, peak RSS %d MiB%n",
                        t, med, med / epochs, secs, accuracy, latency[0], latency[1], b256, peakRssMiB());
            }
        }
        Dense4J.setThreads(1); // the library's default

        List<Map<String, Object>> pt = new ArrayList<>();
        if (torch) {
            Path ob = torchOpenBlas ? PyTorch.javacppOpenBlas() : null;
            if (torchOpenBlas && ob == null) {
                System.out.println("pytorch + OpenBLAS: not run (the JavaCPP OpenBLAS library was not found in the cache)");
            } else {
                for (int t : threads) {
                    List<Map<String, Object>> r = PyTorch.run(dir, epochs, Integer.toString(batch), t, ob);
                    if (r == null) {
                        System.out.println("pytorch: not run (no python3 with torch: apt-get install python3-torch, or set D4J_PYTHON)");
                        break;
                    }
                    pt.addAll(r);
                    for (Map<String, Object> x : r) {
                        System.out.printf("pytorch %s (%s) %s thread(s): train %.3f s, test accuracy %.4f%n", x.get("torch"),
                                x.get("blas"), x.get("threads"), EndToEnd.num(x, "train_seconds"),
                                EndToEnd.num(x, "test_accuracy"));
                    }
                }
            }
        }
        System.out.println();
        System.out.println("| threads | Dense4J train s (median; all) | s / epoch | test accuracy | predict 1 row p50 (p99) us "
                + "| predict 256 rows us | PyTorch train s | PyTorch / Dense4J |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (Run r : runs) {
            Map<String, Object> p = null;
            for (Map<String, Object> x : pt) {
                if (((Number) x.get("threads")).intValue() == r.threads()) {
                    p = x;
                }
            }
            String torchCol = p == null ? "not run" : String.format("%.2f (%s)", EndToEnd.num(p, "train_seconds"),
                    EndToEnd.shortBlas(EndToEnd.blas(p)));
            String ratio = p == null ? "—" : String.format("**%.1fx**", EndToEnd.num(p, "train_seconds") / r.seconds());
            System.out.printf("| %d | %.3f; %s | %.3f | %.4f | %.2f (%.2f) | %.1f | %s | %s |%n", r.threads(), r.seconds(),
                    r.all().stream().map(v -> String.format("%.3f", v)).toList(), r.seconds() / epochs, r.accuracy(),
                    r.p50(), r.p99(), r.batch256(), torchCol, ratio);
        }
        System.out.println("load average at end: " + Suite.loadavg());
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

    /** Median of predict(rows x 784 random pixels) in microseconds. */
    static double batchLatencyMicros(Sequential model, int rows, int n) {
        SplittableRandom rng = new SplittableRandom(5);
        float[][] x = new float[rows][784];
        for (float[] r : x) {
            for (int j = 0; j < r.length; j++) {
                r[j] = (float) rng.nextDouble();
            }
        }
        for (int i = 0; i < 20; i++) {
            model.predict(x);
        }
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            model.predict(x);
            t[i] = System.nanoTime() - s;
        }
        Arrays.sort(t);
        return t[n / 2] / 1e3;
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
}
