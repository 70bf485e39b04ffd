package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reader (and writer) of the IDX format of MNIST and Fashion-MNIST: a big-endian magic number {@code 0x0000TTDD} (type
 * {@code TT = 0x08} unsigned bytes, {@code DD} dimensions), {@code DD} big-endian unsigned 32-bit sizes, then
 * the values in row-major order. Files may be gzip-compressed; compression is detected from the gzip magic
 * bytes {@code 1f 8b}, not from the file name.
 *
 * <p>Values are decoded in chunks straight into the native tensor, so loading 60000 images never holds a
 * second full copy on the Java heap. Every format problem is a {@link DataFormatException} naming the file.
 */
public final class Idx {
    /** Magic number of a 1-D unsigned-byte IDX file (labels). */
    public static final int MAGIC_LABELS = 0x00000801;
    /** Magic number of a 3-D unsigned-byte IDX file (images {@code [N, rows, cols]}). */
    public static final int MAGIC_IMAGES = 0x00000803;

    private static final int CHUNK = 1 << 16;
    /** The divisor of an image file's pixels: a byte {@code b} is the value {@code b / 255f}, in [0, 1]. */
    public static final float PIXEL_DIVISOR = 255f;
    /** {@code i / 255f} for each byte value: exactly the division, without dividing per pixel. */
    private static final float[] SCALE = new float[256];

    static {
        for (int i = 0; i < 256; i++) {
            SCALE[i] = i / PIXEL_DIVISOR;
        }
    }

    private Idx() {
    }

    /**
     * Reads an image file (magic {@code 0x00000803}) into a float32 tensor {@code [N, rows * cols]} (each
     * image flattened row-major), pixels scaled to {@code [0, 1]} as {@code x / 255}.
     *
     * @throws DataFormatException wrong magic, dimension overflow, truncated data or trailing bytes
     * @throws IOException the file cannot be read
     */
    public static Tensor readImages(Path file) throws IOException {
        return readImages(file, TensorAllocation.DIRECT);
    }

    /** As {@link #readImages(Path)}, allocating the tensor through {@code allocation}. */
    public static Tensor readImages(Path file, TensorAllocation allocation) throws IOException {
        return readImages(file, allocation, false);
    }

    /**
     * Reads an image file as {@link #readImages(Path)} does, keeping the pixels as bytes: a
     * {@link Tensor.DType#UINT8} tensor {@code [N, rows * cols]} with divisor {@link #PIXEL_DIVISOR}, whose values are
     * exactly those of {@link #readImages(Path)} ({@code b / 255f}) in a quarter of the memory. The training engine
     * converts each batch while it gathers it, so a step reads a quarter of the bytes from memory, and a model trained
     * on it ends with the same weights, bit for bit, as one trained on the float32 tensor.
     *
     * @throws DataFormatException wrong magic, dimension overflow, truncated data or trailing bytes
     * @throws IOException the file cannot be read
     */
    public static Tensor readImageBytes(Path file) throws IOException {
        return readImageBytes(file, TensorAllocation.DIRECT);
    }

    /** As {@link #readImageBytes(Path)}, allocating the tensor through {@code allocation}. */
    public static Tensor readImageBytes(Path file, TensorAllocation allocation) throws IOException {
        return readImages(file, allocation, true);
    }

    private static Tensor readImages(Path file, TensorAllocation allocation, boolean bytes) throws IOException {
        try (InputStream raw = open(file)) {
            DataInputStream in = new DataInputStream(raw);
            checkMagic(file, in, MAGIC_IMAGES, "images");
            long n = dim(file, in, "image count");
            long rows = dim(file, in, "row count");
            long cols = dim(file, in, "column count");
            long pixels = rows * cols; // each < 2^31, so no long overflow
            if (pixels > Integer.MAX_VALUE) {
                throw new DataFormatException(file + ": dimension overflow: images of " + rows + "x" + cols
                        + " pixels exceed " + Integer.MAX_VALUE + " features");
            }
            long total;
            try {
                total = Math.multiplyExact(n, pixels);
            } catch (ArithmeticException e) {
                throw new DataFormatException(file + ": dimension overflow: " + n + " images of " + rows + "x"
                        + cols + " pixels");
            }
            checkRawSize(file, 16 + total);
            Tensor t = allocation.allocate(() -> bytes ? Tensor.zerosUint8(PIXEL_DIVISOR, n, pixels)
                    : Tensor.zeros(n, pixels));
            try {
                byte[] buf = new byte[CHUNK];
                float[] vals = bytes ? null : new float[CHUNK];
                for (long done = 0; done < total; ) {
                    int len = (int) Math.min(CHUNK, total - done);
                    int got = in.readNBytes(buf, 0, len);
                    if (got < len) {
                        throw new DataFormatException(file + ": truncated: " + n + " images of " + rows + "x" + cols
                                + " need " + total + " pixel bytes, the file has only " + (done + got));
                    }
                    if (bytes) {
                        t.write(done, buf, 0, len);
                    } else {
                        for (int i = 0; i < len; i++) {
                            vals[i] = SCALE[buf[i] & 0xff];
                        }
                        t.write(done, vals, 0, len);
                    }
                    done += len;
                }
                checkEnd(file, in);
                return t;
            } catch (IOException | RuntimeException e) {
                t.close();
                throw e;
            }
        } catch (EOFException | ZipException e) {
            throw new DataFormatException(file + ": truncated or corrupt (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Reads a label file (magic {@code 0x00000801}) into an int32 tensor {@code [N]} of the byte values
     * {@code 0..255}; the caller checks them against its class count.
     *
     * @throws DataFormatException wrong magic, truncated data or trailing bytes
     * @throws IOException the file cannot be read
     */
    public static Tensor readLabels(Path file) throws IOException {
        return readLabels(file, TensorAllocation.DIRECT);
    }

    /** As {@link #readLabels(Path)}, allocating the tensor through {@code allocation}. */
    public static Tensor readLabels(Path file, TensorAllocation allocation) throws IOException {
        try (InputStream raw = open(file)) {
            DataInputStream in = new DataInputStream(raw);
            checkMagic(file, in, MAGIC_LABELS, "labels");
            long n = dim(file, in, "label count");
            checkRawSize(file, 8 + n);
            Tensor t = allocation.allocate(() -> Tensor.zerosInt(n));
            try {
                byte[] buf = new byte[CHUNK];
                int[] vals = new int[CHUNK];
                for (long done = 0; done < n; ) {
                    int len = (int) Math.min(CHUNK, n - done);
                    int got = in.readNBytes(buf, 0, len);
                    if (got < len) {
                        throw new DataFormatException(file + ": truncated: header declares " + n
                                + " labels, the file has only " + (done + got));
                    }
                    for (int i = 0; i < len; i++) {
                        vals[i] = buf[i] & 0xff;
                    }
                    t.write(done, vals, 0, len);
                    done += len;
                }
                checkEnd(file, in);
                return t;
            } catch (IOException | RuntimeException e) {
                t.close();
                throw e;
            }
        } catch (EOFException | ZipException e) {
            throw new DataFormatException(file + ": truncated or corrupt (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Writes {@code images} ({@code [N, rows * cols]}, pixels in [0, 1]) as a raw image file that
     * {@link #readImages} reads back exactly: each pixel is stored as {@code round(x * 255)}, so pixels read from
     * an IDX file round-trip bit for bit. Written to a temporary file and renamed: no half-written file is left.
     *
     * @throws IllegalArgumentException a shape that is not {@code [N, rows * cols]}, or a pixel outside [0, 1]
     */
    public static void writeImages(Path file, Tensor images, int rows, int cols) throws IOException {
        if (images.rank() != 2 || rows <= 0 || cols <= 0 || images.dim(1) != (long) rows * cols) {
            throw new IllegalArgumentException("images of shape " + java.util.Arrays.toString(images.shape())
                    + " are not [N, " + rows + " * " + cols + "]");
        }
        long n = images.dim(0);
        write(file, MAGIC_IMAGES, new long[] {n, rows, cols}, out -> {
            float[] vals = new float[CHUNK];
            byte[] buf = new byte[CHUNK];
            long total = n * rows * cols;
            for (long done = 0; done < total; ) {
                int len = (int) Math.min(CHUNK, total - done);
                images.read(done, vals, 0, len);
                for (int i = 0; i < len; i++) {
                    float x = vals[i];
                    if (!(x >= 0f && x <= 1f)) {
                        throw new IllegalArgumentException("pixel " + (done + i) + " is " + x + ", outside [0, 1]");
                    }
                    buf[i] = (byte) Math.round(x * 255f);
                }
                out.write(buf, 0, len);
                done += len;
            }
        });
    }

    /** Writes class labels ({@code [N]}, integers in 0..255) as a raw label file that {@link #readLabels} reads. */
    public static void writeLabels(Path file, Tensor labels) throws IOException {
        if (labels.rank() != 1) {
            throw new IllegalArgumentException("labels of shape " + java.util.Arrays.toString(labels.shape())
                    + " are not [N]");
        }
        long n = labels.dim(0);
        write(file, MAGIC_LABELS, new long[] {n}, out -> {
            int[] vals = new int[CHUNK];
            byte[] buf = new byte[CHUNK];
            for (long done = 0; done < n; ) {
                int len = (int) Math.min(CHUNK, n - done);
                labels.read(done, vals, 0, len);
                for (int i = 0; i < len; i++) {
                    if (vals[i] < 0 || vals[i] > 255) {
                        throw new IllegalArgumentException("label " + (done + i) + " is " + vals[i]
                                + ": IDX labels are bytes (0..255)");
                    }
                    buf[i] = (byte) vals[i];
                }
                out.write(buf, 0, len);
                done += len;
            }
        });
    }

    private interface Body {
        void write(java.io.OutputStream out) throws IOException;
    }

    private static void write(Path file, int magic, long[] dims, Body body) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
        try {
            try (java.io.DataOutputStream out = new java.io.DataOutputStream(
                    new java.io.BufferedOutputStream(Files.newOutputStream(tmp), CHUNK))) {
                out.writeInt(magic);
                for (long d : dims) {
                    out.writeInt((int) d);
                }
                body.write(out);
            }
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Opens the file, transparently decompressing it when it starts with the gzip magic bytes. */
    static InputStream open(Path file) throws IOException {
        BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), CHUNK);
        try {
            in.mark(2);
            int b0 = in.read();
            int b1 = in.read();
            in.reset();
            if (b0 == 0x1f && b1 == 0x8b) {
                return new BufferedInputStream(new GZIPInputStream(in, CHUNK), CHUNK);
            }
            return in;
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    private static void checkMagic(Path file, DataInputStream in, int expected, String what) throws IOException {
        byte[] head = in.readNBytes(4);
        if (head.length < 4) {
            throw new DataFormatException(file + ": truncated: " + head.length + " bytes, no IDX header");
        }
        int magic = ((head[0] & 0xff) << 24) | ((head[1] & 0xff) << 16) | ((head[2] & 0xff) << 8) | (head[3] & 0xff);
        if (magic != expected) {
            String hint = magic == MAGIC_IMAGES ? " (this is an IDX image file)"
                    : magic == MAGIC_LABELS ? " (this is an IDX label file)" : "";
            throw new DataFormatException(String.format("%s: wrong magic number 0x%08X, expected 0x%08X (IDX %s)%s",
                    file, magic, expected, what, hint));
        }
    }

    /** One header dimension: an unsigned big-endian 32-bit integer, which must fit a Java int. */
    private static long dim(Path file, DataInputStream in, String what) throws IOException {
        byte[] b = in.readNBytes(4);
        if (b.length < 4) {
            throw new DataFormatException(file + ": truncated: the header ends before the " + what);
        }
        long v = ((long) (b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
        if (v > Integer.MAX_VALUE) {
            throw new DataFormatException(file + ": dimension overflow: " + what + " " + v + " exceeds "
                    + Integer.MAX_VALUE);
        }
        return v;
    }

    /**
     * Compares the size the header implies with the bytes the file actually holds, before anything is
     * allocated, so that a corrupt or hostile header cannot make us allocate gigabytes first. For a gzip file
     * the uncompressed size is only known by decompressing, so it is counted in a first streaming pass that
     * stores nothing and stops as soon as it passes the expected size.
     */
    private static void checkRawSize(Path file, long expected) throws IOException {
        boolean gzip = isGzip(file);
        long actual = gzip ? uncompressedSize(file, expected) : Files.size(file);
        if (actual < expected) {
            throw new DataFormatException(file + ": truncated: the header implies " + expected
                    + " bytes, the " + (gzip ? "uncompressed " : "") + "file has " + actual);
        }
        if (actual > expected) {
            throw new DataFormatException(file + ": unexpected trailing bytes after the " + expected
                    + " bytes the header implies");
        }
    }

    /** Decompressed byte count of a gzip file, counting at most {@code limit + 1} bytes. */
    private static long uncompressedSize(Path file, long limit) throws IOException {
        try (InputStream in = open(file)) {
            byte[] buf = new byte[CHUNK];
            long count = 0;
            while (count <= limit) {
                int got = in.read(buf, 0, (int) Math.min(buf.length, limit + 1 - count));
                if (got < 0) {
                    break;
                }
                count += got;
            }
            return count;
        } catch (EOFException | ZipException e) {
            throw new DataFormatException(file + ": truncated or corrupt (" + e.getMessage() + ")", e);
        }
    }

    private static boolean isGzip(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return in.read() == 0x1f && in.read() == 0x8b;
        }
    }

    private static void checkEnd(Path file, InputStream in) throws IOException {
        if (in.read() != -1) {
            throw new DataFormatException(file + ": unexpected trailing bytes after the data the header declares");
        }
    }
}
