package io.dense4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;

/** Loads the real data sets installed on the build machine; skipped where they are absent. */
class MnistRealDataTest {
    static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");
    static final Path MNIST_T10K = Path.of("/work/shared/data/mnist-t10k");

    /** Reads {@code count} bytes at {@code offset} of a gzipped file, independently of {@link Idx}. */
    static byte[] gzBytes(Path file, int offset, int count) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
            in.readNBytes(offset);
            return in.readNBytes(count);
        }
    }

    static void checkRange(Dataset d) {
        float[] buf = new float[1 << 16];
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        long total = d.features().size();
        for (long off = 0; off < total; off += buf.length) {
            int len = (int) Math.min(buf.length, total - off);
            d.features().read(off, buf, 0, len);
            for (int i = 0; i < len; i++) {
                min = Math.min(min, buf[i]);
                max = Math.max(max, buf[i]);
            }
        }
        assertEquals(0f, min);
        assertEquals(1f, max);
    }

    static void checkFirstRows(Dataset d, Path dir, String split) throws IOException {
        byte[] labels = gzBytes(dir.resolve(split + "-labels-idx1-ubyte.gz"), 8, 20);
        for (int i = 0; i < labels.length; i++) {
            assertEquals(labels[i] & 0xff, d.labels().getInt(i), "label " + i);
        }
        byte[] img = gzBytes(dir.resolve(split + "-images-idx3-ubyte.gz"), 16 + 784 * 5, 784);
        float[] row = d.features().row(5);
        for (int j = 0; j < 784; j++) {
            assertEquals((img[j] & 0xff) / 255f, row[j], "pixel " + j + " of image 5");
        }
    }

    @Test
    void fashionMnist() throws IOException {
        assumeTrue(Files.isDirectory(FASHION), "Fashion-MNIST not installed at " + FASHION);
        try (Mnist.Data data = Mnist.load(FASHION)) {
            assertEquals(60000, data.train().size());
            assertEquals(10000, data.test().size());
            assertEquals(784, data.train().numFeatures());
            assertEquals(10, data.train().numClasses());
            assertEquals(Mnist.FASHION_CLASS_NAMES, data.train().classNames());
            try (Dataset first = data.train().take(10)) {
                assertArrayEquals(new int[] {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, first.labels().toIntArray());
            }
            checkFirstRows(data.train(), FASHION, "train");
            checkFirstRows(data.test(), FASHION, "t10k");
            checkRange(data.train());
            checkRange(data.test());
        }
    }

    @Test
    void mnistTestSetOnly() throws IOException {
        assumeTrue(Files.isDirectory(MNIST_T10K), "MNIST t10k not present at " + MNIST_T10K);
        try (Dataset d = Mnist.loadSplit(MNIST_T10K, Mnist.TEST)) {
            assertEquals(10000, d.size());
            assertEquals(784, d.numFeatures());
            assertEquals(Mnist.DIGIT_CLASS_NAMES, d.classNames());
            try (Dataset first = d.take(10)) {
                assertArrayEquals(new int[] {7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, first.labels().toIntArray());
            }
            checkFirstRows(d, MNIST_T10K, "t10k");
            checkRange(d);
        }
        var e = assertThrows(NoSuchFileException.class, () -> Mnist.load(MNIST_T10K));
        assertTrue(e.getMessage().contains("train-images-idx3-ubyte") && e.getMessage().contains("loadSplit"),
                e.getMessage());
    }
}
