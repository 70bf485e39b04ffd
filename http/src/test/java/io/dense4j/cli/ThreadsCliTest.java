package io.dense4j.cli;

import io.dense4j.Dense4J;
import io.dense4j.Model;
import io.dense4j.nativelib.CpuKernels;
import org.bytedeco.javacpp.LongPointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code train --threads 4} on this (2-core) machine while another thread burns a core: a bounded smoke test
 * (the timeout bounds it; no timing is asserted: speed is measured by the benchmarks). The model trained so
 * equals the one trained with {@code --threads 1}: the kernels' results do not depend on the thread count.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ThreadsCliTest {
    @TempDir
    Path tmp;

    @AfterEach
    void restoreThreads() {
        Dense4J.setThreads(CpuKernels.DEFAULT_THREADS); // the command set a process-wide count
    }

    /** 4 classes from a fixed random projection of 64 gaussian features: wide enough to split across threads. */
    private Path data() throws Exception {
        Random r = new Random(7);
        int features = 64;
        double[][] proj = new double[4][features];
        for (double[] p : proj) {
            for (int j = 0; j < features; j++) {
                p[j] = r.nextGaussian();
            }
        }
        StringBuilder b = new StringBuilder();
        for (int j = 0; j < features; j++) {
            b.append('f').append(j).append(',');
        }
        b.append("label\n");
        for (int i = 0; i < 2000; i++) {
            double[] x = new double[features];
            for (int j = 0; j < features; j++) {
                x[j] = r.nextGaussian();
                b.append(String.format(Locale.ROOT, "%.4f,", x[j]));
            }
            int best = 0;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < 4; c++) {
                double s = 0;
                for (int j = 0; j < features; j++) {
                    s += proj[c][j] * x[j];
                }
                if (s > bestScore) {
                    bestScore = s;
                    best = c;
                }
            }
            b.append(best).append('\n');
        }
        Path f = tmp.resolve("wide.csv");
        Files.writeString(f, b.toString());
        return f;
    }

    private void train(Path csv, String threads, Path out) {
        int code = Main.run(new String[] {"train", "--data", csv.toString(), "--layers", "256,128,4",
            "--activations", "relu,relu,softmax", "--epochs", "3", "--threads", threads, "--no-progress",
            "-o", out.toString()});
        assertEquals(0, code, "train --threads " + threads);
    }

    @Test
    void fourThreadsWithABusyCoreFinishAndMatchOneThread() throws Exception {
        Path csv = data();
        Path one = tmp.resolve("one.d4j");
        Path four = tmp.resolve("four.d4j");
        train(csv, "1", one);

        AtomicBoolean stop = new AtomicBoolean();
        Thread burner = new Thread(() -> {
            long x = 1;
            while (!stop.get()) {
                x = x * 6364136223846793005L + 1;
            }
            if (x == 42) {
                System.out.print(""); // keep the loop from being optimized away
            }
        }, "core-burner");
        burner.setDaemon(true);
        LongPointer before = new LongPointer(6);
        LongPointer after = new LongPointer(6);
        CpuKernels.d4j_thread_stats(before);
        burner.start();
        try {
            train(csv, "4", four);
        } finally {
            stop.set(true);
            burner.join();
        }
        CpuKernels.d4j_thread_stats(after);
        assertTrue(after.get(0) + after.get(1) > before.get(0) + before.get(1),
                "no region was even offered to the pool: the test would prove nothing");

        try (Model a = Model.load(one); Model b = Model.load(four)) {
            Random r = new Random(3);
            float[][] rows = new float[50][64];
            for (float[] row : rows) {
                for (int j = 0; j < row.length; j++) {
                    row[j] = (float) r.nextGaussian();
                }
            }
            float[][] pa = a.predict(rows);
            float[][] pb = b.predict(rows);
            for (int i = 0; i < rows.length; i++) {
                assertArrayEquals(pa[i], pb[i], 0f, "row " + i + ": 4 threads trained another model than 1 thread");
            }
        }
        before.close();
        after.close();
    }
}
