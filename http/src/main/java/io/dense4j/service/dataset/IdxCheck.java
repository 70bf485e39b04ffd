package io.dense4j.service.dataset;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Checks an IDX image/label file pair as uploaded, streaming, before anything reads it into memory: the magic
 * numbers, that each header's sizes are exactly the bytes that follow (gzip or raw, recognised by content), that
 * the decompressed size stays within a limit (a small gzip may expand enormously), and the label range. Nothing
 * larger than a read buffer is allocated, whatever the headers declare.
 */
final class IdxCheck {
    private static final int MAGIC_LABELS = 0x00000801;
    private static final int MAGIC_IMAGES = 0x00000803;

    /** One checked split: its rows, features per row, and the largest label. */
    record Split(long rows, long features, int maxLabel) {}

    private IdxCheck() {}

    /**
     * @param maxPixelBytes the most image bytes (decompressed) the server accepts
     * @param imagesName    names used in messages (never server paths)
     */
    static Split check(Path images, String imagesName, Path labels, String labelsName, long maxPixelBytes)
            throws IOException {
        long[] shape = images(images, imagesName, maxPixelBytes);
        int max = labels(labels, labelsName, shape[0], imagesName);
        return new Split(shape[0], shape[1], max);
    }

    /** Rows and features of a checked image file. */
    private static long[] images(Path images, String imagesName, long maxPixelBytes) throws IOException {
        long n;
        long features;
        try (DataInputStream in = new DataInputStream(open(images))) {
            magic(in, MAGIC_IMAGES, imagesName, "images");
            n = dim(in, imagesName, "image count");
            long rows = dim(in, imagesName, "row count");
            long cols = dim(in, imagesName, "column count");
            features = rows * cols;
            if (features == 0 || n == 0) {
                throw DatasetException.invalid(imagesName + ": holds no pixels (" + n + " images of " + rows + "x"
                        + cols + ")");
            }
            if (features > 1 << 24 || n * features > maxPixelBytes) {
                throw new DatasetException(DatasetException.Kind.TOO_LARGE, imagesName + ": " + n + " images of " + rows
                        + "x" + cols + " pixels exceed this server's limit of " + maxPixelBytes + " pixel bytes");
            }
            long got = skipAll(in, n * features + 1);
            if (got != n * features) {
                throw DatasetException.invalid(imagesName + ": " + (got < n * features
                        ? "truncated: the header declares " + n + " images of " + rows + "x" + cols + " (" + n * features
                        + " pixel bytes), the file holds " + got
                        : "unexpected bytes after the " + n * features + " pixel bytes its header declares"));
            }
        } catch (ZipException | java.io.EOFException e) {
            throw DatasetException.invalid(imagesName + ": corrupt or truncated gzip data");
        }
        return new long[] {n, features};
    }

    /** The largest label of a checked label file holding {@code n} labels. */
    private static int labels(Path labels, String labelsName, long n, String imagesName) throws IOException {
        int max = -1;
        try (DataInputStream in = new DataInputStream(open(labels))) {
            magic(in, MAGIC_LABELS, labelsName, "labels");
            long count = dim(in, labelsName, "label count");
            if (count != n) {
                throw DatasetException.invalid(labelsName + " holds " + count + " labels but " + imagesName + " holds "
                        + n + " images");
            }
            byte[] buf = new byte[1 << 16];
            long seen = 0;
            for (int r; (r = in.read(buf)) > 0; ) {
                if (seen + r > count) {
                    throw DatasetException.invalid(labelsName + ": unexpected bytes after the " + count
                            + " labels its header declares");
                }
                for (int i = 0; i < r; i++) {
                    max = Math.max(max, buf[i] & 0xff);
                }
                seen += r;
            }
            if (seen < count) {
                throw DatasetException.invalid(labelsName + ": truncated: the header declares " + count
                        + " labels, the file holds " + seen);
            }
        } catch (ZipException | java.io.EOFException e) {
            throw DatasetException.invalid(labelsName + ": corrupt or truncated gzip data");
        }
        return max;
    }

    private static InputStream open(Path file) throws IOException {
        BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        return b0 == 0x1f && b1 == 0x8b ? new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16) : in;
    }

    private static void magic(DataInputStream in, int expected, String name, String what) throws IOException {
        byte[] b = in.readNBytes(4);
        int m = b.length < 4 ? -1 : ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
        if (m != expected) {
            throw DatasetException.invalid(String.format("%s: not an IDX %s file (magic number 0x%08X, expected 0x%08X)",
                    name, what, m, expected));
        }
    }

    private static long dim(DataInputStream in, String name, String what) throws IOException {
        byte[] b = in.readNBytes(4);
        if (b.length < 4) {
            throw DatasetException.invalid(name + ": truncated: the header ends before the " + what);
        }
        long v = ((long) (b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
        if (v > Integer.MAX_VALUE) {
            throw DatasetException.invalid(name + ": " + what + " " + v + " is too large");
        }
        return v;
    }

    /** Reads and discards up to {@code limit} bytes; returns how many there were. */
    private static long skipAll(InputStream in, long limit) throws IOException {
        byte[] buf = new byte[1 << 16];
        long total = 0;
        while (total < limit) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, limit - total));
            if (r < 0) {
                break;
            }
            total += r;
        }
        return total;
    }
}
