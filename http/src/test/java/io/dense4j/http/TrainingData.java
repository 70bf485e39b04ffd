package io.dense4j.http;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;

/** Tiny learnable data sets written as real files: an MNIST-layout IDX directory (gzipped) and CSV files. */
public final class TrainingData {
    private TrainingData() {}

    /**
     * An IDX directory: {@code train} and {@code test} images of {@code side x side} pixels in 3 Gaussian clusters,
     * gzipped as MNIST ships them.
     */
    public static Path idxDirectory(Path dir, int train, int test, int side, long seed) throws IOException {
        Files.createDirectories(dir);
        SplittableRandom rng = new SplittableRandom(seed);
        int pixels = side * side;
        double[][] centers = new double[3][pixels];
        for (double[] c : centers) {
            for (int j = 0; j < pixels; j++) {
                c[j] = 40 + rng.nextDouble() * 175;
            }
        }
        writeSplit(dir, "train", train, side, centers, rng);
        if (test > 0) {
            writeSplit(dir, "t10k", test, side, centers, rng);
        }
        return dir;
    }

    private static void writeSplit(Path dir, String split, int n, int side, double[][] centers, SplittableRandom rng)
            throws IOException {
        ByteArrayOutputStream images = new ByteArrayOutputStream();
        ByteArrayOutputStream labels = new ByteArrayOutputStream();
        DataOutputStream im = new DataOutputStream(images);
        DataOutputStream lb = new DataOutputStream(labels);
        im.writeInt(0x00000803);
        im.writeInt(n);
        im.writeInt(side);
        im.writeInt(side);
        lb.writeInt(0x00000801);
        lb.writeInt(n);
        for (int r = 0; r < n; r++) {
            int y = r % 3;
            lb.writeByte(y);
            for (int j = 0; j < side * side; j++) {
                im.writeByte((int) Math.max(0, Math.min(255, centers[y][j] + 45 * gaussian(rng))));
            }
        }
        gzip(dir.resolve(split + "-images-idx3-ubyte.gz"), images.toByteArray());
        gzip(dir.resolve(split + "-labels-idx1-ubyte.gz"), labels.toByteArray());
    }

    static void gzip(Path file, byte[] data) throws IOException {
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            out.write(data);
        }
    }

    /** A CSV file: an id column, {@code features} numeric columns, a string label (3 classes) last. */
    public static Path csv(Path file, int rows, int features, long seed) throws IOException {
        SplittableRandom rng = new SplittableRandom(seed);
        double[][] centers = new double[3][features];
        for (double[] c : centers) {
            for (int j = 0; j < features; j++) {
                c[j] = rng.nextDouble() * 4 - 2;
            }
        }
        StringBuilder sb = new StringBuilder("id");
        for (int j = 0; j < features; j++) {
            sb.append(",f").append(j);
        }
        sb.append(",species\n");
        String[] names = {"setosa", "versicolor", "virginica"};
        for (int r = 0; r < rows; r++) {
            int y = r % 3;
            sb.append(r);
            for (int j = 0; j < features; j++) {
                sb.append(',').append(String.format(Locale.ROOT, "%.4f", centers[y][j] + 1.2 * gaussian(rng)));
            }
            sb.append(',').append(names[y]).append('\n');
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, sb.toString());
        return file;
    }

    /** The content address of an IDX directory: SHA-256 of {@code sha256sum *} of its files, computed independently. */
    public static String manifestSha256(Path dir) throws Exception {
        TreeMap<String, String> files = new TreeMap<>();
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                files.put(p.getFileName().toString(), sha256(Files.readAllBytes(p)));
            }
        }
        StringBuilder m = new StringBuilder();
        files.forEach((name, sha) -> m.append(sha).append("  ").append(name).append('\n'));
        return sha256(m.toString().getBytes(StandardCharsets.UTF_8));
    }

    public static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    private static double gaussian(SplittableRandom rng) {
        return Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble());
    }
}
