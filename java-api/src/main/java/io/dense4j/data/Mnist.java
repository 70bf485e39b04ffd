package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Loader of MNIST-layout directories (MNIST, Fashion-MNIST): {@code train-images-idx3-ubyte},
 * {@code train-labels-idx1-ubyte}, {@code t10k-images-idx3-ubyte}, {@code t10k-labels-idx1-ubyte}, each
 * optionally gzip-compressed ({@code .gz}). Features are {@code [N, 784]} in {@code [0, 1]} (pixel / 255), labels
 * int32 {@code [N]} in {@code [0, 10)}. The features are float32, or with {@link Pixels#UINT8} the pixel bytes
 * themselves ({@link Idx#readImageBytes}): the same values in a quarter of the memory, and faster training (each
 * batch is converted while it is gathered) to the same weights, bit for bit.
 *
 * <p>{@link #load} needs both splits; a directory with only one (e.g. the MNIST test set alone) is read with
 * {@link #loadSplit}.
 */
public final class Mnist {
    /** Split name of the 60000-image training set. */
    public static final String TRAIN = "train";
    /** Split name of the 10000-image test set. */
    public static final String TEST = "t10k";

    /** Class names of MNIST: the digits "0" to "9". */
    public static final List<String> DIGIT_CLASS_NAMES =
            List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");

    /** Class names of Fashion-MNIST, in label order. */
    public static final List<String> FASHION_CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress",
            "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    /** Both splits of a directory. Closing it closes both data sets. */
    public record Data(Dataset train, Dataset test) implements AutoCloseable {
        @Override
        public void close() {
            train.close();
            test.close();
        }
    }

    /** How the pixels are held: float32 {@code [N, 784]}, or the bytes with divisor 255 (the same values). */
    public enum Pixels {
        FLOAT32, UINT8
    }

    private Mnist() {
    }

    /**
     * Loads the train and t10k splits of {@code dir}, with {@link #classNamesFor class names from the path}.
     *
     * @throws NoSuchFileException when a file is missing; the message names every missing file and says
     *     whether {@link #loadSplit} can read what is there
     * @throws DataFormatException a malformed file, label count different from image count, label >= 10
     */
    public static Data load(Path dir) throws IOException {
        return load(dir, classNamesFor(dir), Pixels.FLOAT32);
    }

    /** As {@link #load(Path)}, the pixels held as {@code pixels} says. */
    public static Data load(Path dir, Pixels pixels) throws IOException {
        return load(dir, classNamesFor(dir), pixels);
    }

    /** As {@link #load(Path)} with explicit class names (their count is the class count). */
    public static Data load(Path dir, List<String> classNames) throws IOException {
        return load(dir, classNames, Pixels.FLOAT32);
    }

    /** As {@link #load(Path)} with explicit class names, the pixels held as {@code pixels} says. */
    public static Data load(Path dir, List<String> classNames, Pixels pixels) throws IOException {
        List<String> missing = new ArrayList<>();
        for (String split : List.of(TRAIN, TEST)) {
            for (String kind : List.of("images-idx3-ubyte", "labels-idx1-ubyte")) {
                if (find(dir, split + "-" + kind) == null) {
                    missing.add(split + "-" + kind + "[.gz]");
                }
            }
        }
        if (!missing.isEmpty()) {
            String hint = "";
            if (missing.size() == 2 && missing.get(0).startsWith(TRAIN)) {
                hint = "; it holds only the t10k split: use Mnist.loadSplit(dir, \"t10k\")";
            } else if (missing.size() == 2 && missing.get(0).startsWith(TEST)) {
                hint = "; it holds only the train split: use Mnist.loadSplit(dir, \"train\")";
            }
            throw new NoSuchFileException(dir.toString(), null, "MNIST directory lacks " + String.join(", ", missing)
                    + hint);
        }
        Dataset train = loadSplit(dir, TRAIN, classNames, pixels);
        try {
            return new Data(train, loadSplit(dir, TEST, classNames, pixels));
        } catch (IOException | RuntimeException e) {
            train.close();
            throw e;
        }
    }

    /** Loads one split ({@link #TRAIN} or {@link #TEST}) of {@code dir}, with class names from the path. */
    public static Dataset loadSplit(Path dir, String split) throws IOException {
        return loadSplit(dir, split, classNamesFor(dir), Pixels.FLOAT32);
    }

    /** As {@link #loadSplit(Path, String)}, the pixels held as {@code pixels} says. */
    public static Dataset loadSplit(Path dir, String split, Pixels pixels) throws IOException {
        return loadSplit(dir, split, classNamesFor(dir), pixels);
    }

    /** As {@link #loadSplit(Path, String, List, Pixels)} with float32 pixels. */
    public static Dataset loadSplit(Path dir, String split, List<String> classNames) throws IOException {
        return loadSplit(dir, split, classNames, Pixels.FLOAT32);
    }

    /**
     * Loads one split: {@code <split>-images-idx3-ubyte[.gz]} and {@code <split>-labels-idx1-ubyte[.gz]}.
     *
     * @param split {@code "train"} or {@code "t10k"} (any prefix of such a file pair is accepted)
     * @param classNames one name per class; labels must be below their count
     * @param pixels float32 features, or the pixel bytes (the same values)
     */
    public static Dataset loadSplit(Path dir, String split, List<String> classNames, Pixels pixels)
            throws IOException {
        Objects.requireNonNull(split, "split");
        Objects.requireNonNull(pixels, "pixels");
        if (classNames.isEmpty()) {
            throw new IllegalArgumentException("classNames must not be empty: they give the class count");
        }
        Path imagesFile = require(dir, split + "-images-idx3-ubyte");
        Path labelsFile = require(dir, split + "-labels-idx1-ubyte");
        Tensor labels = Idx.readLabels(labelsFile);
        Tensor images = null;
        try {
            checkLabels(labelsFile, labels, classNames.size());
            images = pixels == Pixels.UINT8 ? Idx.readImageBytes(imagesFile) : Idx.readImages(imagesFile);
            if (images.dim(0) != labels.dim(0)) {
                throw new DataFormatException("label count " + labels.dim(0) + " in " + labelsFile
                        + " differs from image count " + images.dim(0) + " in " + imagesFile);
            }
            return Dataset.of(images, labels, classNames.size(), classNames);
        } catch (IOException | RuntimeException e) {
            labels.close();
            if (images != null) {
                images.close();
            }
            throw e;
        }
    }

    /**
     * Writes {@code rows} (28x28 images, pixels in [0, 1], class labels) as the raw split {@code split} of an
     * MNIST-layout directory, created if needed: what {@link #loadSplit} reads back, e.g. one party's share of a
     * data set for a federated client, or a subset handed to the command line.
     */
    public static void writeSplit(Dataset rows, Path dir, String split) throws IOException {
        Objects.requireNonNull(split, "split");
        if (!rows.hasLabels() || rows.numFeatures() != 28 * 28) {
            throw new IllegalArgumentException("an MNIST-layout split holds labelled 28x28 images; these rows have "
                    + rows.numFeatures() + " features" + (rows.hasLabels() ? "" : " and no class labels"));
        }
        java.nio.file.Files.createDirectories(dir);
        Idx.writeImages(dir.resolve(split + "-images-idx3-ubyte"), rows.features(), 28, 28);
        Idx.writeLabels(dir.resolve(split + "-labels-idx1-ubyte"), rows.labels());
    }

    /** True when {@code dir} holds both files of {@code split} (raw or gzipped). */
    public static boolean hasSplit(Path dir, String split) {
        return find(dir, split + "-images-idx3-ubyte") != null && find(dir, split + "-labels-idx1-ubyte") != null;
    }

    /**
     * {@link #FASHION_CLASS_NAMES} when the absolute path of {@code dir} contains "fashion" (any case), else
     * {@link #DIGIT_CLASS_NAMES}.
     */
    public static List<String> classNamesFor(Path dir) {
        return dir.toAbsolutePath().toString().toLowerCase(Locale.ROOT).contains("fashion")
                ? FASHION_CLASS_NAMES : DIGIT_CLASS_NAMES;
    }

    private static void checkLabels(Path file, Tensor labels, int numClasses) {
        int[] all = labels.toIntArray();
        for (int i = 0; i < all.length; i++) {
            int y = all[i];
            if (y >= numClasses) {
                throw new DataFormatException(file + ": label " + y + " at index " + i + " is out of range [0, "
                        + numClasses + ")");
            }
        }
    }

    /** The raw file if present, else the .gz one, else null. */
    private static Path find(Path dir, String base) {
        for (String name : new String[] {base, base + ".gz"}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    private static Path require(Path dir, String base) throws NoSuchFileException {
        Path p = find(dir, base);
        if (p == null) {
            throw new NoSuchFileException(dir.resolve(base).toString(), null,
                    "neither " + base + " nor " + base + ".gz exists in " + dir);
        }
        return p;
    }
}
