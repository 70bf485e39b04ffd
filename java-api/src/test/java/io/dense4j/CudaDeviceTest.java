package io.dense4j;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.data.Normalizer;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.CudaSettings;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import io.dense4j.train.NonFiniteLossException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device API and the CUDA path of Sequential. Where there is no GPU (this build machine), the tests of the
 * GPU path are SKIPPED with the reason printed, and the tests of the GPU-less behaviour run: a clear
 * UnsupportedOperationException, a CPU-only device list, the parser, and to(cpu) as a no-op.
 */
class CudaDeviceTest {
    static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");

    /** Why CUDA cannot be used here (null when a GPU is present). */
    static String noGpuReason;

    @BeforeAll
    static void probe() {
        try (Device d = Device.cuda(0)) {
            System.out.println("CUDA device for the GPU tests: " + d.description());
        } catch (UnsupportedOperationException e) {
            noGpuReason = e.getMessage();
            System.out.println("GPU tests of CudaDeviceTest are skipped: " + noGpuReason);
        }
    }

    static void assumeGpu() {
        assumeTrue(noGpuReason == null, () -> "skipped, no GPU: " + noGpuReason);
    }

    static void assumeNoGpu() {
        assumeTrue(noGpuReason != null, "a CUDA GPU is present: the GPU-less behaviour cannot be observed");
    }

    // ------------------------------------------------------------------------------------------- everywhere

    @Test
    void parseAcceptsCpuAndRejectsOtherText() {
        assertSame(Device.cpu(), Device.parse("cpu"));
        assertSame(Device.cpu(), Device.parse(" CPU "));
        assertEquals("cpu", Device.cpu().toString());
        assertTrue(Device.cpu().description().startsWith("cpu"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu")).getMessage()
                .contains("expected cpu, cuda or cuda:N"));
        assertThrows(IllegalArgumentException.class, () -> Device.parse("cuda:x"));
        assertThrows(IllegalArgumentException.class, () -> Device.parse("cuda:-1"));
        assertThrows(IllegalArgumentException.class, () -> Device.cuda(-1));
    }

    @Test
    void toCpuIsANoOpThatKeepsEverythingWorking() {
        try (Dataset data = blobs(300, 10, 3, 5); Sequential m = small()) {
            m.fit(data, Fit.epochs(2).batchSize(32).seed(3));
            float[] before = m.parameters();
            float[][] p = m.predict(rows(data, 5));
            assertSame(m, m.to(Device.cpu()));
            assertEquals(Device.cpu(), m.device());
            assertArrayEquals(before, m.parameters());
            assertArrayEquals(p, m.predict(rows(data, 5)));
            History h = m.fit(data, Fit.epochs(1).batchSize(32).seed(3));
            assertEquals(1, h.epochs().size());
            assertTrue(m.evaluate(data).accuracy() > 0.5);
        }
    }

    // ------------------------------------------------------------------------------------------- no GPU

    @Test
    void cudaWithoutGpuSaysWhy() {
        assumeNoGpu();
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> Device.cuda(0));
        String msg = e.getMessage();
        assertTrue(msg.startsWith("CUDA device cuda:0 is not available: "), msg);
        // the CUDA library's own reason follows (no driver / no device / library missing)
        assertTrue(msg.length() > "CUDA device cuda:0 is not available: ".length() + 10, msg);
        assertTrue(msg.contains("no CUDA device") || msg.contains("driver") || msg.contains("could not be loaded")
                || msg.contains("this build has no CUDA library"), msg);
        UnsupportedOperationException viaParse = assertThrows(UnsupportedOperationException.class,
                () -> Device.parse("cuda:1"));
        assertTrue(viaParse.getMessage().startsWith("CUDA device cuda:1 is not available: "), viaParse.getMessage());
        assertThrows(UnsupportedOperationException.class, () -> Device.parse("cuda"));
    }

    @Test
    void availableIsJustTheCpuWithoutGpu() {
        assumeNoGpu();
        assertEquals(List.of(Device.cpu()), Device.available());
    }

    @Test
    void cudaSettingsNeedNoGpu() {
        CudaSettings.Precision p;
        try {
            p = CudaSettings.precision();
        } catch (UnsupportedOperationException e) {
            assumeTrue(false, "CUDA library not loadable here: " + e.getMessage());
            return;
        }
        assertEquals(CudaSettings.Precision.FP32, p);
        CudaSettings.precision(CudaSettings.Precision.TF32);
        assertEquals(CudaSettings.Precision.TF32, CudaSettings.precision());
        CudaSettings.precision(CudaSettings.Precision.FP32);
        CudaSettings.gemmVariant(CudaSettings.GemmVariant.SIMPLE);
        assertEquals(CudaSettings.GemmVariant.SIMPLE, CudaSettings.gemmVariant());
        CudaSettings.gemmVariant(CudaSettings.GemmVariant.AUTO);
    }

    // ------------------------------------------------------------------------------------------- GPU only

    @Test
    void availableListsTheGpu() {
        assumeGpu();
        List<Device> all = Device.available();
        assertEquals(Device.cpu(), all.get(0));
        assertTrue(all.size() >= 2, all.toString());
        Device g = all.get(1);
        assertTrue(g.isCuda());
        assertEquals(Device.cuda(0), g);
        assertFalse(g.name().isEmpty());
        assertTrue(g.totalMemory() > 0 && g.freeMemory() > 0 && g.freeMemory() <= g.totalMemory());
        assertTrue(g.description().contains("compute capability " + g.computeCapability()), g.description());
        System.out.println("Device.available(): " + all.stream().map(Device::description).toList());
    }

    /** Same seed on both devices: the same shuffles, the same steps; only FP32 rounding order differs. */
    @Test
    void cudaTrainingMatchesCpu() {
        assumeGpu();
        CudaSettings.precision(CudaSettings.Precision.FP32);
        try (Dataset data = blobs(1000, 20, 4, 11);
             Sequential cpu = deep(); Sequential gpu = deep(); Device dev = Device.cuda(0)) {
            assertSame(gpu, gpu.to(dev));
            assertEquals(dev, gpu.device());
            Fit fit = Fit.epochs(4).batchSize(32).validationSplit(0.2).seed(7);
            History hc = cpu.fit(data, fit);
            History hg = gpu.fit(data, fit);
            assertEquals(cpu.optimizerStep(), gpu.optimizerStep());
            for (int e = 0; e < 4; e++) {
                EpochLog a = hc.epochs().get(e);
                EpochLog b = hg.epochs().get(e);
                assertEquals(a.loss(), b.loss(), 1e-3 * Math.max(1, a.loss()), "loss, epoch " + e);
                assertEquals(a.valLoss(), b.valLoss(), 1e-3 * Math.max(1, a.valLoss()), "val_loss, epoch " + e);
                assertEquals(a.accuracy(), b.accuracy(), 0.01, "accuracy, epoch " + e);
                assertEquals(a.learningRate(), b.learningRate(), 0, "learning rate, epoch " + e);
            }
            float[] pc = cpu.parameters();
            float[] pg = gpu.parameters(); // the host copy, downloaded after the fit
            double maxDiff = 0;
            for (int i = 0; i < pc.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(pc[i] - pg[i]));
            }
            assertTrue(maxDiff < 2e-3, "parameters differ by up to " + maxDiff);
            Evaluation ec = cpu.evaluate(data);
            Evaluation eg = gpu.evaluate(data);
            assertEquals(ec.loss(), eg.loss(), 1e-3 * Math.max(1, ec.loss()));
            float[][] x = rows(data, 50);
            assertPredictionsClose(cpu.predict(x), gpu.predict(x), 1e-3);
            // continuing on the GPU after to(cpu) and back keeps the optimizer step and the state
            gpu.to(Device.cpu());
            assertArrayEquals(pg, gpu.parameters());
            gpu.to(dev);
            cpu.fit(data, Fit.epochs(1).batchSize(32).seed(8));
            gpu.fit(data, Fit.epochs(1).batchSize(32).seed(8));
            assertEquals(cpu.optimizerStep(), gpu.optimizerStep());
            // the Adam moments went to the host and back: a lost state would take very different steps
            pc = cpu.parameters();
            pg = gpu.parameters();
            maxDiff = 0;
            for (int i = 0; i < pc.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(pc[i] - pg[i]));
            }
            assertTrue(maxDiff < 5e-3, "after a second fit, parameters differ by up to " + maxDiff);
        }
    }

    /**
     * Byte features (a UINT8 tensor, as IDX images are loaded for the CLI and the server) on the GPU: the CUDA backend
     * uploads the floats they stand for, so training, evaluation and prediction follow the float32 copy of the set.
     */
    @Test
    void byteFeaturesOnGpuTrainAsTheirFloats() {
        assumeGpu();
        CudaSettings.precision(CudaSettings.Precision.FP32);
        Random r = new Random(19);
        int n = 600;
        int d = 20;
        byte[] pixels = new byte[n * d];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(4);
            for (int j = 0; j < d; j++) {
                pixels[i * d + j] = (byte) Math.min(255, Math.max(0, 60 * labels[i] + 10 * j % 50 + r.nextInt(40)));
            }
        }
        try (Dataset bytes = Dataset.of(Tensor.ofUint8(pixels, 255f, n, d), Tensor.ofInts(labels, n))) {
            try (Dataset floats = bytes.floatCopy(); Sequential a = deep(); Sequential b = deep();
                 Device dev = Device.cuda(0)) {
                a.to(dev);
                b.to(dev);
                Fit fit = Fit.epochs(3).batchSize(32).validationSplit(0.2).seed(5);
                a.fit(floats, fit);
                b.fit(bytes, fit);
                float[] pa = a.parameters();
                float[] pb = b.parameters();
                double maxDiff = 0;
                for (int i = 0; i < pa.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(pa[i] - pb[i]));
                }
                assertTrue(maxDiff < 1e-5, "byte vs float features on the GPU: parameters differ by up to " + maxDiff);
                assertEquals(a.evaluate(floats).loss(), b.evaluate(bytes).loss(), 1e-5);
                try (Tensor oa = a.predict(floats.features()); Tensor ob = b.predict(bytes.features())) {
                    assertPredictionsClose(new float[][] {oa.toFloatArray()}, new float[][] {ob.toFloatArray()}, 1e-5);
                }
            }
        }
    }

    @Test
    void fashionMnistSubsetOnGpu() throws Exception {
        assumeGpu();
        assumeTrue(Files.isDirectory(FASHION), "Fashion-MNIST not installed at " + FASHION);
        try (Mnist.Data all = Mnist.load(FASHION); Dataset train = all.train().take(12000);
             Dataset test = all.test().take(2000); Sequential m = TrainingTest.reference()) {
            m.to(Device.cuda(0));
            History h = m.fit(train, Fit.epochs(3).batchSize(32).seed(42));
            assertTrue(h.last().loss() < h.epochs().get(0).loss());
            Evaluation e = m.evaluate(test);
            System.out.println("Fashion-MNIST subset on GPU: " + e.accuracy());
            assertTrue(e.accuracy() > 0.80, "test accuracy " + e.accuracy());
            float[] row = test.features().row(0);
            assertEquals(10, m.predict(row).length);
            // single-row latency from Java (issue goal: under 30 us on the H200); reported, not asserted
            for (int i = 0; i < 2000; i++) {
                m.predict(row);
            }
            long t0 = System.nanoTime();
            int reps = 5000;
            for (int i = 0; i < reps; i++) {
                m.predict(row);
            }
            System.out.printf("RESULT java_predict_1row_us %.2f%n", (System.nanoTime() - t0) / 1e3 / reps);
        }
    }

    @Test
    void savedOnGpuLoadsOnCpuWithTheSamePredictions(@TempDir Path tmp) {
        assumeGpu();
        try (Dataset data = blobs(500, 10, 3, 21); Sequential m = small()) {
            m.preprocessing(Normalizer.standardize());
            m.to(Device.cuda(0));
            m.fit(data, Fit.epochs(3).batchSize(16).seed(5));
            float[][] x = rows(data, 40);
            float[][] onGpu = m.predict(x);
            Path f = tmp.resolve("gpu.d4j");
            m.save(f);
            try (Sequential back = Sequential.load(f)) {
                assertEquals(Device.cpu(), back.device());
                assertArrayEquals(m.parameters(), back.parameters());
                assertPredictionsClose(onGpu, back.predict(x), 1e-5);
                back.to(Device.cuda(0));
                assertPredictionsClose(onGpu, back.predict(x), 1e-6);
                try (Tensor t = Tensor.of(x); Tensor out = back.predict(t)) {
                    assertEquals(onGpu[3][1], out.getFloat(3 * 3 + 1), 1e-6);
                }
            }
        }
    }

    @Test
    void earlyStoppingRestoresBestWeightsOnGpuAsOnCpu() {
        assumeGpu();
        try (Dataset data = blobs(400, 10, 3, 9); Sequential cpu = small(); Sequential gpu = small()) {
            gpu.to(Device.cuda(0));
            EarlyStopping esCpu = EarlyStopping.onValLoss(1, true);
            EarlyStopping esGpu = EarlyStopping.onValLoss(1, true);
            History hc = cpu.fit(data, Fit.epochs(30).batchSize(8).validationSplit(0.3).seed(2).callbacks(esCpu));
            History hg = gpu.fit(data, Fit.epochs(30).batchSize(8).validationSplit(0.3).seed(2).callbacks(esGpu));
            assertEquals(esCpu.bestEpoch(), esGpu.bestEpoch());
            assertEquals(hc.epochs().size(), hg.epochs().size());
            // the restored (host) weights are the ones the GPU predicts with
            float[][] x = rows(data, 10);
            assertPredictionsClose(cpu.predict(x), gpu.predict(x), 1e-3);
            float[][] onGpu = gpu.predict(x);
            gpu.to(Device.cpu());
            assertPredictionsClose(onGpu, gpu.predict(x), 1e-5);
        }
    }

    @Test
    void nonFiniteLossOnGpu() {
        assumeGpu();
        try (Dataset data = blobs(300, 10, 3, 4);
             Sequential m = Sequential.of(Dense.of(10, 16, Activation.RELU), Dense.of(3, Activation.SOFTMAX))) {
            m.compile(Optimizers.sgd(1e30), Losses.SPARSE_CATEGORICAL_CROSSENTROPY);
            m.to(Device.cuda(0));
            NonFiniteLossException e = assertThrows(NonFiniteLossException.class,
                    () -> m.fit(data, Fit.epochs(3).seed(1)));
            assertTrue(e.getMessage().contains("NaN or infinite"));
            for (float p : m.parameters()) {
                assertTrue(Float.isFinite(p), "the update that produced a non-finite loss must not be applied");
            }
        }
    }

    @Test
    void concurrentPredictOnGpu() throws Exception {
        assumeGpu();
        try (Dataset data = blobs(200, 10, 3, 6); Sequential m = small()) {
            m.fit(data, Fit.epochs(1).seed(1));
            float[][] x = rows(data, 20);
            float[][] expected = m.predict(x);
            m.to(Device.cuda(0));
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<float[][]>> fs = new java.util.ArrayList<>();
                for (int i = 0; i < 64; i++) {
                    fs.add(pool.submit(() -> m.predict(x)));
                }
                for (Future<float[][]> f : fs) {
                    assertPredictionsClose(expected, f.get(), 1e-5);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    // ------------------------------------------------------------------------------------------- helpers

    static Sequential small() {
        Sequential m = Sequential.of(Dense.of(10, 16, Activation.RELU), Dense.of(3, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-2), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    static Sequential deep() {
        Sequential m = Sequential.of(Dense.of(20, 64, Activation.RELU), Dense.of(32, Activation.TANH),
                Dense.of(4, Activation.SOFTMAX));
        m.compile(Optimizers.adam(3e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    /** Gaussian blobs: k classes around random centres in d dimensions. */
    static Dataset blobs(int n, int d, int k, long seed) {
        Random r = new Random(seed);
        float[][] centres = new float[k][d];
        for (float[] c : centres) {
            for (int j = 0; j < d; j++) {
                c[j] = (float) (r.nextGaussian() * 2);
            }
        }
        float[][] x = new float[n][d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(k);
            for (int j = 0; j < d; j++) {
                x[i][j] = centres[y[i]][j] + (float) r.nextGaussian();
            }
        }
        return Dataset.of(x, y);
    }

    static float[][] rows(Dataset d, int n) {
        float[][] x = new float[n][];
        for (int i = 0; i < n; i++) {
            x[i] = d.features().row(i);
        }
        return x;
    }

    static void assertPredictionsClose(float[][] a, float[][] b, double tol) {
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                assertEquals(a[i][j], b[i][j], tol, "row " + i + " output " + j);
            }
        }
    }
}
