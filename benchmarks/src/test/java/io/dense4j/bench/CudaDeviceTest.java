package io.dense4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.bench.device.CudaOpsProvider;
import io.dense4j.bench.device.DeviceBuffer;
import io.dense4j.bench.device.DeviceOps;
import io.dense4j.bench.device.DeviceOpsProvider;
import io.dense4j.bench.device.DeviceUnavailableException;
import io.dense4j.bench.device.Devices;
import java.util.ServiceLoader;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The {@code cuda} benchmark device. Everywhere: the provider is registered and, without a GPU, says why and
 * makes every cuda benchmark skip. With a GPU only (skipped otherwise, reason printed): each op's output,
 * downloaded with d2h copies, matches the cpu device, and the GPU-only shape and peak bodies run.
 */
class CudaDeviceTest {

    private static String reason() {
        return Devices.unavailableReason("cuda");
    }

    private static void assumeGpu() {
        BenchmarkSmokeTest.assumeAvailable("cuda");
    }

    @Test
    void providerIsRegisteredAndSkipsWithTheLibrarysReason() {
        boolean found = false;
        for (DeviceOpsProvider p : ServiceLoader.load(DeviceOpsProvider.class)) {
            found |= p instanceof CudaOpsProvider && "cuda".equals(p.device());
        }
        assertTrue(found, "CudaOpsProvider is not listed in META-INF/services");
        String reason = reason();
        System.out.println("cuda device: " + (reason == null ? "available" : "unavailable: " + reason));
        if (reason == null) {
            assertTrue(Devices.available().contains("cuda"));
            return;
        }
        // the provider's reason (loading error or the library's message), not "no implementation on the class path"
        assertFalse(reason.isBlank());
        assertFalse(reason.contains("no cuda implementation"), reason);
        assertTrue(reason.startsWith("d4j_cuda_device_count returned") || reason.startsWith("the CUDA kernel library")
                || reason.startsWith("no CUDA device"), reason);
        assertFalse(Devices.available().contains("cuda"));
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class, () -> Devices.open("cuda"));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        // every benchmark's setup skips cuda the same way (the suite itself never starts JMH for it)
        OpBenchmarks op = new OpBenchmarks();
        op.device = "cuda";
        op.shape = Shape.LARGE; // accepted by the shape check on cuda: the device check must be the one that fires
        op.cpuThreads = 1;
        assertTrue(assertThrows(DeviceUnavailableException.class, op::setup).getMessage().contains(reason));
        PeakBenchmark peak = new PeakBenchmark();
        peak.device = "cuda";
        peak.size = 64;
        assertThrows(DeviceUnavailableException.class, peak::setup);
        OptimizerBenchmarks opt = new OptimizerBenchmarks();
        opt.device = "cuda";
        opt.optimizer = "adam";
        assertThrows(DeviceUnavailableException.class, opt::setup);
        TrainStepBenchmarks train = new TrainStepBenchmarks();
        train.device = "cuda";
        train.batch = 8;
        train.stepsPerCall = 1;
        assertThrows(DeviceUnavailableException.class, train::setup);
        InferenceBenchmarks inf = new InferenceBenchmarks();
        inf.device = "cuda";
        inf.batch = 1;
        assertThrows(DeviceUnavailableException.class, inf::setup);
    }

    /** Every single op and the GEMM in its three layouts, on awkward and reference shapes, against the cpu device. */
    @Test
    void opsMatchTheCpuDevice() {
        assumeGpu();
        try (DeviceOps gpu = Devices.open("cuda"); DeviceOps cpu = Devices.open("cpu")) {
            System.out.println(gpu.description());
            for (int[] s : new int[][] {{37, 70, 33}, {32, 784, 128}, {32, 128, 10}, {5, 3, 1}}) {
                int n = s[0], in = s[1], out = s[2];
                String at = " at " + n + "x" + in + "x" + out;
                SplittableRandom rng = new SplittableRandom(n * 31L + in);
                float[] x = OpBenchmarks.random(rng, (long) n * in, 1f), w = OpBenchmarks.random(rng, (long) in * out, 0.3f),
                        b = OpBenchmarks.random(rng, out, 0.1f), dz = OpBenchmarks.random(rng, (long) n * out, 1f);
                int[] labels = new int[n];
                for (int i = 0; i < n; i++) {
                    labels[i] = rng.nextInt(out);
                }
                for (int act = 0; act <= 5; act++) {
                    float[][] c = RoundTrip.forward(cpu, x, w, b, n, in, out, act), g = RoundTrip.forward(gpu, x, w, b, n, in, out, act);
                    close(c[0], g[0], "z act " + act + at);
                    close(c[1], g[1], "y act " + act + at);
                    if (act != 5) { // softmax's derivative is inside the fused loss, not activation_backward
                        close(RoundTrip.actBackward(cpu, c[0], c[1], dz, n, out, act), RoundTrip.actBackward(gpu, c[0], c[1], dz, n, out, act),
                                "activation backward " + act + at);
                    }
                }
                float[][] c = RoundTrip.backward(cpu, x, w, dz, n, in, out), g = RoundTrip.backward(gpu, x, w, dz, n, in, out);
                for (int i = 0; i < 3; i++) {
                    close(c[i], g[i], new String[] {"dW", "db", "dx"}[i] + at);
                }
                float[] gc = new float[n * out], gg = new float[n * out];
                double lc = RoundTrip.loss(cpu, dz, labels, gc, n, out), lg = RoundTrip.loss(gpu, dz, labels, gg, n, out);
                assertEquals(lc, lg, 1e-4 * Math.max(1, Math.abs(lc)), "loss" + at);
                close(gc, gg, "loss gradient" + at);
                // the benchmarks' three GEMMs: x.W, x^T.dz, dz.W^T
                close(RoundTrip.gemm(cpu, false, false, n, out, in, x, w), RoundTrip.gemm(gpu, false, false, n, out, in, x, w), "gemm NN" + at);
                close(RoundTrip.gemm(cpu, true, false, in, out, n, x, dz), RoundTrip.gemm(gpu, true, false, in, out, n, x, dz), "gemm TN" + at);
                close(RoundTrip.gemm(cpu, false, true, n, in, out, dz, w), RoundTrip.gemm(gpu, false, true, n, in, out, dz, w), "gemm NT" + at);
            }
            SplittableRandom rng = new SplittableRandom(9);
            float[] p = OpBenchmarks.random(rng, 1001, 0.1f), gr = OpBenchmarks.random(rng, 1001, 0.01f);
            for (String opt : new String[] {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}) {
                close(RoundTrip.optimize(cpu, opt, p, gr), RoundTrip.optimize(gpu, opt, p, gr), "optimizer " + opt);
            }
        }
    }

    /** The whole network: same initial parameters and row order, so SGD steps and the inference must agree. */
    @Test
    void networkMatchesTheCpuDevice() {
        assumeGpu();
        try (DeviceOps gpu = Devices.open("cuda"); DeviceOps cpu = Devices.open("cpu")) {
            int rows = 64, batch = 16, steps = 4;
            SplittableRandom rng = new SplittableRandom(5);
            float[] x = OpBenchmarks.random(rng, (long) rows * Work.REF_SIZES[0], 1f);
            int[] labels = new int[rows], order = new int[rows];
            for (int i = 0; i < rows; i++) {
                labels[i] = rng.nextInt(10);
                order[i] = (i * 37) % rows;
            }
            double[] loss = new double[2];
            float[][] outs = new float[2][];
            DeviceOps[] both = {cpu, gpu};
            for (int d = 0; d < 2; d++) {
                DeviceOps ops = both[d];
                try (DeviceOps.Net net = ops.createNet(Work.REF_SIZES, Work.REF_ACTS, batch, 0, new float[5], 42);
                     DeviceBuffer xb = ops.upload(x); DeviceBuffer lb = ops.uploadInts(labels);
                     DeviceBuffer ob = ops.uploadInts(order); DeviceBuffer out = ops.zeros((long) rows * 10)) {
                    assertEquals(Work.REF_PARAMS, net.parameterCount());
                    loss[d] = net.train(xb, lb, ob, rows, 0, batch, steps, 0.05f);
                    ops.synchronize();
                    net.forward(xb, rows, out);
                    outs[d] = ops.download(out);
                }
            }
            assertTrue(loss[0] > 0 && Double.isFinite(loss[0]));
            assertEquals(loss[0], loss[1], 1e-3 * loss[0], "training loss sum");
            close(outs[0], outs[1], "inference after training");
        }
    }

    /** What only cuda runs: the 4096^3 shape's bodies and a peak GEMM (smaller than the suite's 8192, same code). */
    @Test
    void gpuOnlyShapeAndPeakRunOnce() {
        assumeGpu();
        OpBenchmarks b = new OpBenchmarks();
        b.device = "cuda";
        b.shape = Shape.LARGE;
        b.cpuThreads = 1;
        b.setup();
        try {
            assertNotNull(b.forward());
            assertNotNull(b.backward());
            assertNotNull(b.sgemmForward());
            assertTrue(b.softmaxCrossEntropy() > 0);
        } finally {
            b.tearDown();
        }
        PeakBenchmark p = new PeakBenchmark();
        p.device = "cuda";
        p.size = 2048;
        p.cpuThreads = 1;
        p.setup();
        try {
            assertNotNull(p.sgemmPeak());
        } finally {
            p.tearDown();
        }
    }

    /** |g - c| <= 1e-3 * max|c| + 1e-3 * |c|: FP32 sums in a different order, relative to the output's scale. */
    private static void close(float[] c, float[] g, String what) {
        assertEquals(c.length, g.length, what);
        float scale = 0;
        for (float v : c) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < c.length; i++) {
            float tol = 1e-3f * scale + 1e-3f * Math.abs(c[i]) + 1e-7f;
            if (!(Math.abs(g[i] - c[i]) <= tol)) {
                throw new AssertionError(what + ": element " + i + " cpu " + c[i] + " cuda " + g[i] + " (tolerance " + tol + ")");
            }
        }
    }






}
