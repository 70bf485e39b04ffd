package io.dense4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.bench.device.DeviceBuffer;
import io.dense4j.bench.device.DeviceOps;
import io.dense4j.bench.device.DeviceUnavailableException;
import io.dense4j.bench.device.Devices;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Runs every benchmark method body once per device (no timing; cuda only where a GPU is visible, else skipped
 * with the reason), and checks the Java baseline agrees with the native ops.
 */
class BenchmarkSmokeTest {

    /** Skips (JUnit assumption, reason printed) a device that cannot run here, as the suite does. */
    static void assumeAvailable(String device) {
        String reason = Devices.unavailableReason(device);
        if (reason != null) {
            System.out.println("SKIPPED device '" + device + "': " + reason);
        }
        Assumptions.assumeTrue(reason == null, () -> "device '" + device + "' skipped: " + reason);
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "java", "cuda"})
    void opBenchmarksRunOnce(String device) {
        assumeAvailable(device);
        for (String shape : new String[] {"5x7x3", "4x9x12"}) {
            OpBenchmarks b = new OpBenchmarks();
            b.device = device;
            b.shape = shape;
            b.cpuThreads = 1;
            b.setup();
            try {
                assertNotNull(b.forward());
                assertNotNull(b.backward());
                assertNotNull(b.backwardFirstLayer());
                assertNotNull(b.activationBackward());
                assertTrue(b.softmaxCrossEntropy() > 0);
                assertNotNull(b.sgemmForward());
                assertNotNull(b.sgemmWeightGrad());
                assertNotNull(b.sgemmInputGrad());
            } finally {
                b.tearDown();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "java", "cuda"})
    void optimizerTrainInferenceRunOnce(String device) {
        assumeAvailable(device);
        for (String opt : new String[] {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
            OptimizerBenchmarks o = new OptimizerBenchmarks();
            o.device = device;
            o.optimizer = opt;
            o.cpuThreads = 1;
            o.setup();
            try {
                assertNotNull(o.optimizer());
            } finally {
                o.tearDown();
            }
        }
        TrainStepBenchmarks t = new TrainStepBenchmarks();
        t.device = device;
        t.batch = 8;
        t.stepsPerCall = 2;
        t.cpuThreads = 1;
        t.setup();
        try {
            double loss = t.trainStep();
            assertTrue(loss > 0 && Double.isFinite(loss));
        } finally {
            t.tearDown();
        }
        InferenceBenchmarks i = new InferenceBenchmarks();
        i.device = device;
        i.batch = 3;
        i.cpuThreads = 1;
        i.setup();
        try {
            assertNotNull(i.inference());
        } finally {
            i.tearDown();
        }
    }

    @Test
    void peakAndApiRunOnce() {
        PeakBenchmark p = new PeakBenchmark();
        p.device = "cpu";
        p.size = 16;
        p.cpuThreads = 1;
        p.setup();
        try {
            assertNotNull(p.sgemmPeak());
        } finally {
            p.tearDown();
        }
        ApiBenchmarks a = new ApiBenchmarks();
        a.setup();
        try {
            assertEquals(10, a.predictOneRow().length);
        } finally {
            a.tearDown();
        }
    }

    @Test
    void unavailableDevicesAndShapesSkipWithAReason() {
        String reason = Devices.unavailableReason("cuda");
        if (reason != null) { // no CUDA provider on this class path (or no GPU)
            DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> Devices.open("cuda"));
            assertTrue(e.getMessage().contains("skipped"), e.getMessage());
        }
        OpBenchmarks b = new OpBenchmarks();
        b.device = "cpu";
        b.shape = Shape.LARGE;
        b.cpuThreads = 1;
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, b::setup);
        assertTrue(e.getMessage().contains("GPU only"), e.getMessage());
    }

    /** The baseline must compute the same thing as the kernels, or its speed-up would mean nothing. */
    @Test
    void javaBaselineMatchesNativeKernels() {
        try (DeviceOps cpu = Devices.open("cpu"); DeviceOps java = Devices.open("java")) {
            int n = 6, in = 11, out = 7;
            SplittableRandom rng = new SplittableRandom(1);
            float[] x = OpBenchmarks.random(rng, n * in, 1f), w = OpBenchmarks.random(rng, in * out, 0.5f),
                    b = OpBenchmarks.random(rng, out, 0.5f), dz = OpBenchmarks.random(rng, n * out, 1f);
            int[] lab = {0, 3, 6, 2, 2, 5};
            for (int act : new int[] {1, 5}) {
                assertArrayEquals(forward(cpu, x, w, b, n, in, out, act), forward(java, x, w, b, n, in, out, act), 1e-5f);
            }
            float[][] rc = backward(cpu, x, w, dz, n, in, out), rj = backward(java, x, w, dz, n, in, out);
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(rc[i], rj[i], 1e-4f);
            }
            float[] gc = new float[n * out], gj = new float[n * out];
            double lc = loss(cpu, dz, lab, gc, n, out), lj = loss(java, dz, lab, gj, n, out);
            assertEquals(lc, lj, 1e-4);
            assertArrayEquals(gc, gj, 1e-6f);
            for (String opt : new String[] {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
                assertArrayEquals(optimize(cpu, opt, x, dz), optimize(java, opt, x, dz), 1e-6f, opt);
            }
        }
    }

    private static float[] forward(DeviceOps ops, float[] x, float[] w, float[] b, int n, int in, int out, int act) {
        try (DeviceBuffer xb = ops.upload(x); DeviceBuffer wb = ops.upload(w); DeviceBuffer bb = ops.upload(b);
             DeviceBuffer y = ops.zeros((long) n * out)) {
            ops.denseForward(xb, wb, bb, null, y, n, in, out, act);
            return ops.download(y);
        }
    }

    private static float[][] backward(DeviceOps ops, float[] x, float[] w, float[] dz, int n, int in, int out) {
        try (DeviceBuffer xb = ops.upload(x); DeviceBuffer wb = ops.upload(w); DeviceBuffer d = ops.upload(dz);
             DeviceBuffer dw = ops.zeros((long) in * out); DeviceBuffer db = ops.zeros(out);
             DeviceBuffer dx = ops.zeros((long) n * in)) {
            ops.denseBackward(xb, wb, d, dw, db, dx, n, in, out);
            return new float[][] {ops.download(dw), ops.download(db), ops.download(dx)};
        }
    }

    private static double loss(DeviceOps ops, float[] logits, int[] labels, float[] gradOut, int n, int k) {
        try (DeviceBuffer l = ops.upload(logits); DeviceBuffer lab = ops.uploadInts(labels); DeviceBuffer g = ops.zeros((long) n * k)) {
            double loss = ops.softmaxCrossEntropy(l, lab, g, n, k);
            System.arraycopy(ops.download(g), 0, gradOut, 0, n * k);
            return loss;
        }
    }

    private static float[] optimize(DeviceOps ops, String opt, float[] p, float[] g) {
        Object[] c = OptimizerBenchmarks.config(opt);
        int n = Math.min(p.length, g.length);
        try (DeviceBuffer pb = ops.upload(java.util.Arrays.copyOf(p, n)); DeviceBuffer gb = ops.upload(java.util.Arrays.copyOf(g, n));
             DeviceBuffer s = ops.zeros(3L * n)) {
            for (int step = 1; step <= 3; step++) {
                ops.optimizerStep((Integer) c[0], (float[]) c[1], 0.01f, step, pb, gb, s, n);
            }
            return ops.download(pb);
        }
    }
}
