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
                assertArrayEquals(RoundTrip.forward(cpu, x, w, b, n, in, out, act)[1], RoundTrip.forward(java, x, w, b, n, in, out, act)[1], 1e-5f);
            }
            float[][] rc = RoundTrip.backward(cpu, x, w, dz, n, in, out), rj = RoundTrip.backward(java, x, w, dz, n, in, out);
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(rc[i], rj[i], 1e-4f);
            }
            float[] gc = new float[n * out], gj = new float[n * out];
            double lc = RoundTrip.loss(cpu, dz, lab, gc, n, out), lj = RoundTrip.loss(java, dz, lab, gj, n, out);
            assertEquals(lc, lj, 1e-4);
            assertArrayEquals(gc, gj, 1e-6f);
            for (String opt : new String[] {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
                assertArrayEquals(RoundTrip.optimize(cpu, opt, x, dz), RoundTrip.optimize(java, opt, x, dz), 1e-6f, opt);
            }
        }
    }




}
