package io.dense4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
    @TempDir
    Path dir;

    /** IDX images: magic 0x803, n, rows, cols, then the pixel bytes. */
    static byte[] images(int n, int rows, int cols, byte[] pixels) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bos); // big-endian, as IDX
        out.writeInt(0x803);
        out.writeInt(n);
        out.writeInt(rows);
        out.writeInt(cols);
        out.write(pixels);
        return bos.toByteArray();
    }

    static byte[] labels(byte... values) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bos);
        out.writeInt(0x801);
        out.writeInt(values.length);
        out.write(values);
        return bos.toByteArray();
    }

    static byte[] gzip(byte[] b) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bos)) {
            gz.write(b);
        }
        return bos.toByteArray();
    }

    static byte[] pixels(int count) {
        byte[] p = new byte[count];
        for (int i = 0; i < count; i++) {
            p[i] = (byte) (i * 37);
        }
        return p;
    }

    Path write(String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content);
    }

    void checkImages(Tensor t, int n, int pixelsPerImage, byte[] pixels) {
        assertArrayEquals(new long[] {n, pixelsPerImage}, t.shape());
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            assertEquals((pixels[i] & 0xff) / 255f, v[i], "pixel " + i);
        }
    }

    @Test
    void readsRawAndGzippedImages() throws IOException {
        byte[] px = pixels(3 * 4 * 5);
        px[0] = (byte) 255;
        px[1] = 0;
        byte[] file = images(3, 4, 5, px);
        try (Tensor raw = Idx.readImages(write("img", file));
             Tensor gz = Idx.readImages(write("img.gz", gzip(file)))) {
            checkImages(raw, 3, 20, px);
            checkImages(gz, 3, 20, px);
            assertEquals(1f, raw.getFloat(0));
            assertEquals(0f, raw.getFloat(1));
        }
        // gzip is detected by its magic bytes, not by the name
        try (Tensor a = Idx.readImages(write("gz-without-extension", gzip(file)));
             Tensor b = Idx.readImages(write("raw-with.gz", file))) {
            checkImages(a, 3, 20, px);
            checkImages(b, 3, 20, px);
        }
    }

    @Test
    void readsLargerThanOneChunk() throws IOException {
        byte[] px = pixels(3000 * 28 * 28); // > the 64 KiB decode chunk
        try (Tensor t = Idx.readImages(write("big.gz", gzip(images(3000, 28, 28, px))))) {
            checkImages(t, 3000, 784, px);
        }
    }

    @Test
    void readsLabels() throws IOException {
        byte[] file = labels((byte) 0, (byte) 9, (byte) 255);
        try (Tensor raw = Idx.readLabels(write("lab", file)); Tensor gz = Idx.readLabels(write("lab.gz", gzip(file)))) {
            assertArrayEquals(new int[] {0, 9, 255}, raw.toIntArray());
            assertArrayEquals(new int[] {0, 9, 255}, gz.toIntArray());
        }
    }

    @Test
    void wrongMagic() throws IOException {
        Path labels = write("labels", labels((byte) 1));
        var e = assertThrows(DataFormatException.class, () -> Idx.readImages(labels));
        assertTrue(e.getMessage().contains(labels.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("wrong magic number 0x00000801, expected 0x00000803"), e.getMessage());
        Path junk = write("junk.gz", gzip("hello world, not idx".getBytes()));
        e = assertThrows(DataFormatException.class, () -> Idx.readLabels(junk));
        assertTrue(e.getMessage().contains("wrong magic"), e.getMessage());
    }

    @Test
    void truncatedFiles() throws IOException {
        byte[] file = images(2, 3, 3, pixels(18));
        byte[] cut = Arrays.copyOf(file, file.length - 5);
        Path raw = write("cut", cut);
        var e = assertThrows(DataFormatException.class, () -> Idx.readImages(raw));
        assertTrue(e.getMessage().contains(raw.toString()) && e.getMessage().contains("truncated"), e.getMessage());
        Path gz = write("cut.gz", gzip(cut));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(gz));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("implies 34 bytes")
                && e.getMessage().contains("has 29"), e.getMessage());
        // a cut gzip stream (not a complete stream of cut data)
        byte[] z = gzip(file);
        Path cutGz = write("cutstream.gz", Arrays.copyOf(z, z.length - 12));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(cutGz));
        assertTrue(e.getMessage().contains(cutGz.toString()), e.getMessage());
        // header cut short
        Path header = write("header", Arrays.copyOf(file, 10));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(header));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        Path labels = write("labels.gz", gzip(Arrays.copyOf(labels((byte) 1, (byte) 2, (byte) 3), 10)));
        e = assertThrows(DataFormatException.class, () -> Idx.readLabels(labels));
        assertTrue(e.getMessage().contains("implies 11 bytes, the uncompressed file has 10"), e.getMessage());
    }

    @Test
    void trailingBytesAndOverflow() throws IOException {
        byte[] file = images(1, 2, 2, pixels(4));
        byte[] longer = Arrays.copyOf(file, file.length + 3);
        Path raw = write("long", longer);
        var e = assertThrows(DataFormatException.class, () -> Idx.readImages(raw));
        assertTrue(e.getMessage().contains("trailing"), e.getMessage());
        Path gz = write("long.gz", gzip(longer));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(gz));
        assertTrue(e.getMessage().contains("trailing"), e.getMessage());
        // 0xFFFFFFFF images: unsigned dimension above Integer.MAX_VALUE
        Path huge = write("huge", images(-1, 28, 28, new byte[0]));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(huge));
        assertTrue(e.getMessage().contains("dimension overflow") && e.getMessage().contains("4294967295"),
                e.getMessage());
        Path wide = write("wide", images(1, 65536, 65536, new byte[0]));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(wide));
        assertTrue(e.getMessage().contains("dimension overflow"), e.getMessage());
        // a header promising far more than the raw file holds fails before allocating
        Path lies = write("lies", images(1_000_000_000, 28, 28, new byte[0]));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(lies));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        // the same lie gzipped: 784 GB of floats declared, 12 pixel bytes present; the decompressed size is counted
        // before the tensor is allocated, so this is a format error, not a native allocation failure
        Path liesGz = write("lies.gz", gzip(images(250_000_000, 28, 28, pixels(12))));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(liesGz));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("has 28"), e.getMessage());
        byte[] lyingLabels = labels(new byte[3]);
        lyingLabels[4] = 0x7f; // 0x7f000003 labels declared, 3 present
        Path labelLies = write("lies-labels2.gz", gzip(lyingLabels));
        e = assertThrows(DataFormatException.class, () -> Idx.readLabels(labelLies));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("has 11"), e.getMessage());
    }

    @Test
    void mnistSplitChecksCountsAndRange() throws IOException {
        write("t10k-images-idx3-ubyte.gz", gzip(images(3, 2, 2, pixels(12))));
        write("t10k-labels-idx1-ubyte", labels((byte) 1, (byte) 2));
        var e = assertThrows(DataFormatException.class, () -> Mnist.loadSplit(dir, Mnist.TEST));
        assertTrue(e.getMessage().contains("label count 2") && e.getMessage().contains("image count 3")
                && e.getMessage().contains("t10k-labels-idx1-ubyte") && e.getMessage().contains("t10k-images"),
                e.getMessage());

        write("t10k-labels-idx1-ubyte", labels((byte) 1, (byte) 12, (byte) 3));
        e = assertThrows(DataFormatException.class, () -> Mnist.loadSplit(dir, Mnist.TEST));
        assertTrue(e.getMessage().contains("label 12 at index 1 is out of range [0, 10)"), e.getMessage());

        write("t10k-labels-idx1-ubyte", labels((byte) 1, (byte) 9, (byte) 3));
        try (Dataset d = Mnist.loadSplit(dir, Mnist.TEST)) {
            assertEquals(3, d.size());
            assertEquals(4, d.numFeatures());
            assertEquals(10, d.numClasses());
            assertArrayEquals(new int[] {1, 9, 3}, d.labels().toIntArray());
            assertEquals(Mnist.DIGIT_CLASS_NAMES, d.classNames());
        }

        // load() needs both splits and says what is missing and what to do
        var missing = assertThrows(NoSuchFileException.class, () -> Mnist.load(dir));
        assertTrue(missing.getMessage().contains("train-images-idx3-ubyte[.gz]")
                && missing.getMessage().contains("train-labels-idx1-ubyte[.gz]")
                && missing.getMessage().contains("loadSplit(dir, \"t10k\")"), missing.getMessage());
        var none = assertThrows(NoSuchFileException.class, () -> Mnist.loadSplit(dir, Mnist.TRAIN));
        assertTrue(none.getMessage().contains("train-images-idx3-ubyte"), none.getMessage());

        write("train-images-idx3-ubyte", images(2, 2, 2, pixels(8)));
        write("train-labels-idx1-ubyte.gz", gzip(labels((byte) 0, (byte) 5)));
        try (Mnist.Data data = Mnist.load(dir)) {
            assertEquals(2, data.train().size());
            assertEquals(3, data.test().size());
        }
    }

    @Test
    void classNamesFromPath() {
        assertEquals(Mnist.FASHION_CLASS_NAMES, Mnist.classNamesFor(Path.of("/data/Fashion-MNIST")));
        assertEquals(Mnist.DIGIT_CLASS_NAMES, Mnist.classNamesFor(Path.of("/data/mnist")));
        assertEquals(10, Mnist.FASHION_CLASS_NAMES.size());
        assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), Mnist.DIGIT_CLASS_NAMES);
    }

    @Test
    void writtenFilesAreTheSameBytesAReaderGaveAndReadBack() throws IOException {
        java.util.Random r = new java.util.Random(31);
        for (int n : new int[] {1, 31, 33, 1000}) { // 1000 images: more than one 64 KiB chunk
            byte[] px = new byte[n * 28 * 28];
            r.nextBytes(px);
            byte[] lab = new byte[n];
            for (int i = 0; i < n; i++) {
                lab[i] = (byte) r.nextInt(10);
            }
            byte[] imageFile = images(n, 28, 28, px);
            byte[] labelFile = labels(lab);
            try (Tensor t = Idx.readImages(write("in-img-" + n + ".gz", gzip(imageFile)));
                 Tensor l = Idx.readLabels(write("in-lab-" + n, labelFile))) {
                Path outImages = dir.resolve("out-img-" + n);
                Path outLabels = dir.resolve("out-lab-" + n);
                Idx.writeImages(outImages, t, 28, 28);
                Idx.writeLabels(outLabels, l);
                assertArrayEquals(imageFile, Files.readAllBytes(outImages), n + " images");
                assertArrayEquals(labelFile, Files.readAllBytes(outLabels), n + " labels");
            }
        }
    }

    @Test
    void aSplitWrittenFromASubsetLoadsAsThoseRows() throws IOException {
        byte[] px = pixels(5 * 28 * 28);
        Files.createDirectories(dir.resolve("src"));
        write("src/train-images-idx3-ubyte", images(5, 28, 28, px));
        write("src/train-labels-idx1-ubyte", labels((byte) 3, (byte) 1, (byte) 4, (byte) 1, (byte) 5));
        try (Dataset all = Mnist.loadSplit(dir.resolve("src"), "train", Mnist.DIGIT_CLASS_NAMES);
             Dataset some = all.subset(new int[] {4, 0, 2})) {
            Mnist.writeSplit(some, dir.resolve("party"), "train");
            try (Dataset back = Mnist.loadSplit(dir.resolve("party"), "train", Mnist.DIGIT_CLASS_NAMES)) {
                assertArrayEquals(new int[] {5, 3, 4}, back.labels().toIntArray());
                assertArrayEquals(some.features().toFloatArray(), back.features().toFloatArray());
            }
        }
    }

    @Test
    void writingRefusesWhatIdxCannotHoldAndLeavesNoFile() throws IOException {
        try (Tensor bright = Tensor.of(new float[][] {{0f, 0.5f, 1.0001f, 0f}});
             Tensor nan = Tensor.of(new float[][] {{0f, Float.NaN, 0f, 0f}});
             Tensor square = Tensor.of(new float[][] {{0f, 0.5f, 1f, 0f}})) {
            var e = assertThrows(IllegalArgumentException.class, () -> Idx.writeImages(dir.resolve("x"), bright, 2, 2));
            assertTrue(e.getMessage().contains("pixel 2 is 1.0001, outside [0, 1]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Idx.writeImages(dir.resolve("x"), nan, 2, 2));
            e = assertThrows(IllegalArgumentException.class, () -> Idx.writeImages(dir.resolve("x"), square, 3, 3));
            assertTrue(e.getMessage().contains("are not [N, 3 * 3]"), e.getMessage());
            try (Stream<Path> left = Files.list(dir)) {
                assertEquals(List.of(), left.toList(), "no file and no temporary file is left");
            }
        }
    }
}
