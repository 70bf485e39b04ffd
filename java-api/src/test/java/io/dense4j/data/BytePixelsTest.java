package io.dense4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data sets whose pixels stay bytes ({@link Tensor.DType#UINT8}, {@link Idx#readImageBytes},
 * {@link Mnist.Pixels#UINT8}): every value is the float the float32 reader gives ({@code i / 255f}) and a model trained
 * on them ends with the same weights, bit for bit, as one trained on the float32 set (at 1 and 2 threads, with a
 * validation split, with a normalizer); evaluation and prediction agree; hostile divisors and writes are refused.
 */
class BytePixelsTest {
    static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");

    @Test
    void everyByteStandsForTheFloatOfTheFloatReader() {
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (byte) i;
        }
        try (Tensor t = Tensor.ofUint8(all, Idx.PIXEL_DIVISOR, 16, 16); Tensor f = t.toFloat32()) {
            assertEquals(Tensor.DType.UINT8, t.dtype());
            assertEquals(255f, t.divisor());
            float[] values = t.toFloatArray();
            float[] copied = f.toFloatArray();
            for (int i = 0; i < 256; i++) {
                assertEquals(Float.floatToRawIntBits(i / 255f), Float.floatToRawIntBits(values[i]), "byte " + i);
                assertEquals(Float.floatToRawIntBits(i / 255f), Float.floatToRawIntBits(copied[i]), "byte " + i);
                assertEquals(i / 255f, t.getFloat(i));
            }
            assertArrayEquals(Arrays.copyOfRange(values, 16 * 5, 16 * 6), t.row(5));
            float[] part = new float[7];
            t.read(250, part, 0, 6);
            assertEquals(255 / 255f, part[5]);
            try (Tensor rows = t.gatherRows(new int[] {15, 0, 15}); Tensor c = t.copy()) {
                assertEquals(Tensor.DType.UINT8, rows.dtype());
                assertEquals(255f, rows.divisor());
                assertArrayEquals(t.row(15), rows.row(0));
                assertArrayEquals(t.row(0), rows.row(1));
                assertArrayEquals(values, c.toFloatArray());
            }
            byte[] back = new byte[256];
            t.read(0, back, 0, 256);
            assertArrayEquals(all, back);
        }
    }

    @Test
    void hostileDivisorsAndFloatWritesAreRefused() {
        for (float d : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, -255f,
                1e-40f}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.zerosUint8(d, 4),
                    "divisor " + d);
            assertTrue(e.getMessage().contains("divisor"), e.getMessage());
        }
        try (Tensor t = Tensor.zerosUint8(255f, 2, 3)) {
            assertThrows(IllegalStateException.class, () -> t.write(0, new float[] {0.5f}, 0, 1));
            assertThrows(IllegalStateException.class, () -> t.setFloat(0, 0.5f));
            assertThrows(IllegalArgumentException.class, () -> Normalizer.scale(2f).apply(t));
            assertThrows(IndexOutOfBoundsException.class, () -> t.write(5, new byte[] {1, 2}, 0, 2));
            assertThrows(IllegalStateException.class, () -> t.read(0, new int[1], 0, 1));
            assertEquals(0f, t.getFloat(5)); // nothing was written
        }
        assertThrows(IllegalArgumentException.class, () -> Tensor.ofUint8(new byte[5], 255f, 2, 3));
    }

    @Test
    void byteTensorsOfTwoMegabytesAndMoreLiveInPages() {
        int n = 3 << 20; // above PageMemory.MIN_BYTES as bytes
        byte[] b = new byte[n];
        new Random(5).nextBytes(b);
        try (Tensor t = Tensor.ofUint8(b, 255f, n / 1024, 1024)) {
            byte[] back = new byte[n];
            t.read(0, back, 0, n);
            assertArrayEquals(b, back);
            assertEquals((b[n - 1] & 0xff) / 255f, t.getFloat(n - 1));
        }
    }

    /** Random images of awkward sizes, through the IDX writer: readImageBytes gives readImages' values. */
    @Test
    void idxBytesReadTheFloatReadersValues(@TempDir Path dir) throws IOException {
        Random rng = new Random(3);
        float[] pixels = new float[33 * 31];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = rng.nextInt(3) == 0 ? 0f : rng.nextInt(256) / 255f;
        }
        Path file = dir.resolve("images");
        try (Tensor t = Tensor.of(pixels, 33, 31)) {
            Idx.writeImages(file, t, 1, 31);
        }
        try (Tensor f = Idx.readImages(file); Tensor b = Idx.readImageBytes(file)) {
            assertEquals(Tensor.DType.UINT8, b.dtype());
            assertArrayEquals(f.shape(), b.shape());
            assertArrayEquals(f.toFloatArray(), b.toFloatArray());
            assertArrayEquals(pixels, b.toFloatArray());
        }
        // a header declaring more images than the file holds: refused before anything is allocated
        byte[] whole = Files.readAllBytes(file);
        Files.write(dir.resolve("short"), Arrays.copyOf(whole, whole.length - 1));
        assertThrows(DataFormatException.class, () -> Idx.readImageBytes(dir.resolve("short")));
        whole[4] = 0x7f; // image count 2^30 + ...: far beyond the bytes present
        Files.write(dir.resolve("huge"), whole);
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImageBytes(dir.resolve("huge")));
        assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("overflow"), e.getMessage());
    }

    static Sequential reference() {
        Sequential m = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        return m;
    }

    /**
     * The reference network on real Fashion-MNIST rows, trained on the pixel bytes and on the float32 pixels: the
     * same weights bit for bit, the same history and evaluation, at 1 and 2 threads; with a normalizer too (the bytes
     * are then normalized as a float copy).
     */
    @Test
    void trainingOnBytesEndsWithTheFloatSetsWeights() throws IOException {
        assertTrue(Files.isDirectory(FASHION), "Fashion-MNIST must be installed (apt-get install dataset-fashion-mnist)");
        int saved = Dense4J.threads();
        try (Dataset floatsAll = Mnist.loadSplit(FASHION, Mnist.TEST);
             Dataset bytesAll = Mnist.loadSplit(FASHION, Mnist.TEST, Mnist.Pixels.UINT8);
             Dataset floats = floatsAll.take(1500); Dataset bytes = bytesAll.take(1500);
             Dataset testF = floatsAll.subset(java.util.stream.IntStream.range(9000, 10000).toArray());
             Dataset testB = bytesAll.subset(java.util.stream.IntStream.range(9000, 10000).toArray())) {
            assertEquals(Tensor.DType.UINT8, bytes.features().dtype());
            assertEquals(Tensor.DType.FLOAT32, floats.features().dtype());
            for (int threads : new int[] {1, 2}) {
                Dense4J.setThreads(threads);
                for (boolean normalize : new boolean[] {false, true}) {
                    Fit fit = Fit.epochs(2).batchSize(32).validationSplit(0.1).seed(17);
                    try (Sequential a = reference(); Sequential b = reference()) {
                        if (normalize) {
                            a.preprocessing(Normalizer.standardize());
                            b.preprocessing(Normalizer.standardize());
                        }
                        History ha = a.fit(floats, fit);
                        History hb = b.fit(bytes, fit);
                        String what = threads + " thread(s)" + (normalize ? ", standardized" : "");
                        float[] pa = a.parameters();
                        float[] pb = b.parameters();
                        for (int i = 0; i < pa.length; i++) {
                            assertEquals(Float.floatToRawIntBits(pa[i]), Float.floatToRawIntBits(pb[i]),
                                    what + ": parameter " + i);
                        }
                        assertTrue(hb.epochs().get(1).loss() < hb.epochs().get(0).loss(), what + ": no learning");
                        assertEquals(ha.epochs().size(), hb.epochs().size());
                        for (int e = 0; e < ha.epochs().size(); e++) {
                            assertEquals(ha.epochs().get(e).loss(), hb.epochs().get(e).loss(), what);
                            assertEquals(ha.epochs().get(e).valLoss(), hb.epochs().get(e).valLoss(), what);
                            assertEquals(ha.epochs().get(e).valAccuracy(), hb.epochs().get(e).valAccuracy(), what);
                        }
                        Evaluation ea = a.evaluate(testF);
                        Evaluation eb = b.evaluate(testB);
                        assertEquals(ea.loss(), eb.loss(), what);
                        assertEquals(ea.accuracy(), eb.accuracy(), what);
                        assertTrue(eb.accuracy() > 0.5, what + ": accuracy " + eb.accuracy());
                        try (Tensor oa = a.predict(testF.features()); Tensor ob = b.predict(testB.features())) {
                            assertArrayEquals(oa.toFloatArray(), ob.toFloatArray(), what);
                        }
                    }
                }
            }
        } finally {
            Dense4J.setThreads(saved);
        }
    }
}
