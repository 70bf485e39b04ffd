package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * A supervised data set held in native memory: float32 features {@code [N, d]} (or uint8 bytes standing for
 * {@code b / divisor}, e.g. image pixels read from IDX files: {@link Mnist.Pixels#UINT8}) plus exactly one of
 * int32 class {@link #labels()} {@code [N]} (for sparse categorical cross-entropy) or float32
 * {@link #targets()} {@code [N, k]} (one-hot, binary or regression targets).
 *
 * <p>A {@code Dataset} owns its tensors: {@link #close()} frees them, and every method that returns a new
 * {@code Dataset} ({@link #subset}, {@link #split}, {@link #take}, {@link #kFold} ...) copies the rows into
 * new tensors owned by the result, so the parts can be closed independently of this one.
 *
 * <p>The factories taking tensors take ownership of them only when they succeed; when a check fails
 * ({@link IllegalArgumentException} naming the problem) the caller still owns, and must close, them.
 */
public final class Dataset implements AutoCloseable {

    /** Two disjoint parts of a data set, from {@link #split} or {@link #splitTail}. Closing it closes both. */
    public record Split(Dataset first, Dataset second) implements AutoCloseable {
        @Override
        public void close() {
            first.close();
            second.close();
        }
    }

    /** One cross-validation fold from {@link #kFold}: the rows of {@code test} are not in {@code train}. */
    public record Fold(Dataset train, Dataset test) implements AutoCloseable {
        @Override
        public void close() {
            train.close();
            test.close();
        }
    }

    private final Tensor features;
    private final Tensor labels;
    private final Tensor targets;
    private final int numClasses;
    private final List<String> classNames;

    private Dataset(Tensor features, Tensor labels, Tensor targets, int numClasses, List<String> classNames) {
        this.features = features;
        this.labels = labels;
        this.targets = targets;
        this.numClasses = numClasses;
        this.classNames = classNames;
    }

    // ---------------------------------------------------------------- factories

    /**
     * Features with class labels; the class count is the largest label + 1.
     *
     * @param features float32 (or uint8) {@code [N, d]}
     * @param labels int32 {@code [N]}, every value {@code >= 0}
     */
    public static Dataset of(Tensor features, Tensor labels) {
        return of(features, labels, -1, List.of());
    }

    /**
     * Features with class labels and a declared class count (a subset of a data set may not contain the
     * largest class, so the count is not always derivable from the labels).
     *
     * @param numClasses the class count, or -1 to use {@code classNames.size()} when non-empty, else the largest
     *     label + 1
     * @param classNames one name per class, or empty
     * @throws IllegalArgumentException on a shape, dtype or range problem; the tensors then stay the caller's
     */
    public static Dataset of(Tensor features, Tensor labels, int numClasses, List<String> classNames) {
        Objects.requireNonNull(labels, "labels");
        List<String> names = List.copyOf(Objects.requireNonNull(classNames, "classNames"));
        int n = checkFeatures(features);
        if (labels.dtype() != Tensor.DType.INT32) {
            throw new IllegalArgumentException("labels must be INT32 class indices, got " + labels.dtype()
                    + " (use ofTargets for float targets)");
        }
        if (labels.rank() != 1 || labels.dim(0) != n) {
            throw new IllegalArgumentException("labels must have shape [" + n + "] to match features "
                    + Arrays.toString(features.shape()) + ", got " + Arrays.toString(labels.shape()));
        }
        if (numClasses < -1) {
            throw new IllegalArgumentException("numClasses must be >= 0 (or -1 to infer), got " + numClasses);
        }
        if (numClasses >= 0 && !names.isEmpty() && names.size() != numClasses) {
            throw new IllegalArgumentException(names.size() + " class names for " + numClasses + " classes");
        }
        int declared = numClasses >= 0 ? numClasses : names.isEmpty() ? -1 : names.size();
        int max = -1;
        int[] chunk = new int[Math.min(n, 1 << 16)];
        for (int start = 0; start < n; start += chunk.length) {
            int len = Math.min(chunk.length, n - start);
            labels.read(start, chunk, 0, len);
            for (int i = 0; i < len; i++) {
                int y = chunk[i];
                if (y < 0 || (declared >= 0 && y >= declared)) {
                    throw new IllegalArgumentException("label " + y + " at row " + (start + i) + " is outside [0, "
                            + (declared >= 0 ? declared : "inf") + ")");
                }
                max = Math.max(max, y);
            }
        }
        return new Dataset(features, labels, null, declared >= 0 ? declared : max + 1, names);
    }

    /**
     * Features with float targets: one-hot rows, binary targets or regression values.
     *
     * @param features float32 {@code [N, d]}
     * @param targets float32 {@code [N, k]}, {@code k >= 1}
     */
    public static Dataset ofTargets(Tensor features, Tensor targets) {
        return ofTargets(features, targets, List.of());
    }

    /** As {@link #ofTargets(Tensor, Tensor)}, with one name per target column (e.g. one-hot class names). */
    public static Dataset ofTargets(Tensor features, Tensor targets, List<String> classNames) {
        Objects.requireNonNull(targets, "targets");
        List<String> names = List.copyOf(Objects.requireNonNull(classNames, "classNames"));
        int n = checkFeatures(features);
        if (targets.dtype() != Tensor.DType.FLOAT32) {
            throw new IllegalArgumentException("targets must be FLOAT32, got " + targets.dtype()
                    + " (use of(features, labels) for class indices)");
        }
        if (targets.rank() != 2 || targets.dim(0) != n || targets.dim(1) < 1) {
            throw new IllegalArgumentException("targets must have shape [" + n + ", k >= 1] to match features "
                    + Arrays.toString(features.shape()) + ", got " + Arrays.toString(targets.shape()));
        }
        int k = Math.toIntExact(targets.dim(1));
        if (!names.isEmpty() && names.size() != k) {
            throw new IllegalArgumentException(names.size() + " class names for " + k + " target columns");
        }
        return new Dataset(features, null, targets, k, names);
    }

    /** Copies the arrays into a new data set with class labels (class count: largest label + 1). */
    public static Dataset of(float[][] features, int[] labels) {
        return of(features, labels, -1, List.of());
    }

    /** Copies the arrays into a new data set with class labels; see {@link #of(Tensor, Tensor, int, List)}. */
    public static Dataset of(float[][] features, int[] labels, int numClasses, List<String> classNames) {
        Tensor x = featureTensor(features);
        Tensor y = null;
        try {
            y = Tensor.ofInts(labels, labels.length);
            return of(x, y, numClasses, classNames);
        } catch (RuntimeException e) {
            x.close();
            if (y != null) {
                y.close();
            }
            throw e;
        }
    }

    /** Copies the arrays into a new data set with float targets {@code [N, k]}. */
    public static Dataset ofTargets(float[][] features, float[][] targets) {
        Tensor x = featureTensor(features);
        Tensor y = null;
        try {
            y = Tensor.of(targets);
            return ofTargets(x, y);
        } catch (RuntimeException e) {
            x.close();
            if (y != null) {
                y.close();
            }
            throw e;
        }
    }

    /** Copies the arrays into a new data set with one regression target per row (targets {@code [N, 1]}). */
    public static Dataset ofTargets(float[][] features, float[] targets) {
        Tensor x = featureTensor(features);
        Tensor y = null;
        try {
            y = Tensor.of(targets, targets.length, 1);
            return ofTargets(x, y);
        } catch (RuntimeException e) {
            x.close();
            if (y != null) {
                y.close();
            }
            throw e;
        }
    }

    private static Tensor featureTensor(float[][] features) {
        Objects.requireNonNull(features, "features");
        if (features.length == 0) {
            throw new IllegalArgumentException("features has no rows; the feature count is unknown");
        }
        return Tensor.of(features);
    }

    private static int checkFeatures(Tensor features) {
        Objects.requireNonNull(features, "features");
        if (features.isClosed()) {
            throw new IllegalArgumentException("features tensor was closed");
        }
        if (features.dtype() == Tensor.DType.INT32) {
            throw new IllegalArgumentException("features must be FLOAT32 (or UINT8 bytes with their divisor), got "
                    + features.dtype());
        }
        if (features.rank() != 2) {
            throw new IllegalArgumentException("features must have shape [N, d], got "
                    + Arrays.toString(features.shape()));
        }
        if (features.dim(0) > Integer.MAX_VALUE || features.dim(1) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("features shape " + Arrays.toString(features.shape())
                    + " exceeds " + Integer.MAX_VALUE + " rows or columns");
        }
        return (int) features.dim(0);
    }

    // ---------------------------------------------------------------- accessors

    /**
     * Features {@code [N, d]}, owned by this data set: float32, or uint8 bytes standing for {@code b / divisor}
     * ({@link Tensor#divisor()}; image data sets read from IDX files, which train a quarter of the memory traffic).
     */
    public Tensor features() {
        return features;
    }

    /** Int32 class indices {@code [N]}, or null when this data set has {@link #targets()}. */
    public Tensor labels() {
        return labels;
    }

    /** Float32 targets {@code [N, k]}, or null when this data set has {@link #labels()}. */
    public Tensor targets() {
        return targets;
    }

    /** True when the data set has class {@link #labels()}, false when it has {@link #targets()}. */
    public boolean hasLabels() {
        return labels != null;
    }

    /** Number of rows N. */
    public int size() {
        return (int) features.dim(0);
    }

    /** Number of features d. */
    public int numFeatures() {
        return (int) features.dim(1);
    }

    /** With labels: the declared class count, or largest label + 1. With targets: the column count k. */
    public int numClasses() {
        return numClasses;
    }

    /** One name per class (or target column), or an empty list when unnamed. Unmodifiable. */
    public List<String> classNames() {
        return classNames;
    }

    // ---------------------------------------------------------------- derived data sets

    /**
     * A new data set with rows {@code rows} of this one, in that order (repeats allowed), keeping the class
     * count and names.
     *
     * @throws IndexOutOfBoundsException for a row outside {@code [0, size())}
     */
    public Dataset subset(int[] rows) {
        Objects.requireNonNull(rows, "rows");
        for (int r : rows) {
            // checked up front so that no half-built tensor needs cleaning up
            if (r < 0 || r >= size()) {
                throw new IndexOutOfBoundsException("row " + r + " outside [0, " + size() + ")");
            }
        }
        Tensor x = features.gatherRows(rows);
        try {
            Tensor y = (labels != null ? labels : targets).gatherRows(rows);
            return new Dataset(x, labels != null ? y : null, labels != null ? null : y, numClasses, classNames);
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
    }

    /**
     * A copy of every row whose features are float32: UINT8 features (bytes read from IDX files) become the floats
     * their bytes stand for, bit for bit. What a normalizer rescales in place ({@link Normalizer#apply(Tensor)}).
     */
    public Dataset floatCopy() {
        if (features.dtype() == Tensor.DType.FLOAT32) {
            return subset(range(0, size()));
        }
        Tensor x = features.toFloat32();
        try {
            Tensor y = (labels != null ? labels : targets).copy();
            return new Dataset(x, labels != null ? y : null, labels != null ? null : y, numClasses, classNames);
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
    }

    /** The first {@code n} rows, copied. */
    public Dataset take(int n) {
        if (n < 0 || n > size()) {
            throw new IllegalArgumentException("take(" + n + ") outside [0, " + size() + "]");
        }
        return subset(range(0, n));
    }

    /**
     * Shuffles the rows with {@code seed} and splits them: the first part gets
     * {@code round(size() * firstFraction)} rows. The same seed always gives the same split (the shuffle uses
     * {@link Random}, whose algorithm is fixed by its specification). Rows of each part are in shuffled order.
     * Use it for train/test splits; {@link #splitTail} is Keras's unshuffled {@code validation_split}.
     *
     * @param firstFraction in {@code [0, 1]}
     */
    public Split split(double firstFraction, long seed) {
        checkFraction("firstFraction", firstFraction);
        int[] perm = permutation(size(), seed);
        int firstN = (int) Math.round(size() * firstFraction);
        return splitAt(perm, firstN);
    }

    /**
     * Splits off the LAST {@code tailFraction} of the rows without shuffling, as Keras's
     * {@code validation_split} does: the first part gets {@code floor(size() * (1 - tailFraction))} rows,
     * the second (validation) part the rest, both in their original order.
     *
     * @param tailFraction in {@code [0, 1]}
     */
    public Split splitTail(double tailFraction) {
        checkFraction("tailFraction", tailFraction);
        int firstN = (int) Math.floor(size() * (1.0 - tailFraction));
        return splitAt(range(0, size()), firstN);
    }

    private Split splitAt(int[] order, int firstN) {
        Dataset first = subset(Arrays.copyOfRange(order, 0, firstN));
        try {
            return new Split(first, subset(Arrays.copyOfRange(order, firstN, order.length)));
        } catch (RuntimeException e) {
            first.close();
            throw e;
        }
    }

    /**
     * The row indices of the {@code k} test folds for cross-validation: the rows are shuffled with
     * {@code seed} and cut into {@code k} folds whose sizes differ by at most one; every row is in exactly
     * one fold. Each fold's indices are sorted ascending.
     *
     * @param k in {@code [2, size()]}
     */
    public int[][] kFoldIndices(int k, long seed) {
        if (k < 2 || k > size()) {
            throw new IllegalArgumentException("k must be in [2, " + size() + "] for " + size() + " rows, got " + k);
        }
        int n = size();
        int[] perm = permutation(n, seed);
        int[][] folds = new int[k][];
        for (int f = 0; f < k; f++) {
            // long arithmetic: n * f may exceed int for large n
            int start = (int) ((long) n * f / k);
            int end = (int) ((long) n * (f + 1) / k);
            folds[f] = Arrays.copyOfRange(perm, start, end);
            Arrays.sort(folds[f]);
        }
        return folds;
    }

    /**
     * The {@code k} cross-validation folds of {@link #kFoldIndices}, each as a (train, test) pair of new data
     * sets; rows keep their original order within each part. This materialises k copies of the data (about
     * {@code k} times its size); for large data use {@link #kFoldIndices} and {@link #subset} one fold at a
     * time.
     */
    public List<Fold> kFold(int k, long seed) {
        int[][] tests = kFoldIndices(k, seed);
        List<Fold> folds = new ArrayList<>(k);
        try {
            for (int[] test : tests) {
                boolean[] inTest = new boolean[size()];
                for (int r : test) {
                    inTest[r] = true;
                }
                int[] train = new int[size() - test.length];
                int j = 0;
                for (int r = 0; r < size(); r++) {
                    if (!inTest[r]) {
                        train[j++] = r;
                    }
                }
                Dataset trainSet = subset(train);
                try {
                    folds.add(new Fold(trainSet, subset(test)));
                } catch (RuntimeException e) {
                    trainSet.close();
                    throw e;
                }
            }
        } catch (RuntimeException e) {
            folds.forEach(Fold::close);
            throw e;
        }
        return folds;
    }

    /**
     * A new data set with the same features and one-hot float targets {@code [N, numClasses()]} instead of the
     * labels (for categorical cross-entropy). Only for data sets with labels.
     */
    public Dataset oneHot() {
        if (labels == null) {
            throw new IllegalStateException("oneHot() needs class labels; this data set has targets");
        }
        if (numClasses < 1) {
            throw new IllegalStateException("oneHot() needs at least one class");
        }
        int[] y = labels.toIntArray();
        Tensor x = features.copy();
        Tensor t = null;
        try {
            t = Tensor.zeros(size(), numClasses);
            for (int i = 0; i < y.length; i++) {
                t.setFloat((long) i * numClasses + y[i], 1f);
            }
            return new Dataset(x, null, t, numClasses, classNames);
        } catch (RuntimeException e) {
            x.close();
            if (t != null) {
                t.close();
            }
            throw e;
        }
    }

    /**
     * This data set with its class labels numbered as a model with {@code modelClassNames} numbers them, or null
     * when they already are: the data set has no class names (integer labels are class indices), the model has
     * none, or both have the same names in the same order. Needed because text labels are numbered by their
     * sorted names within each file ({@link Csv}): a file without some class numbers the others differently from
     * the model trained on all of them. The copy holds the same features; the caller closes it.
     *
     * @throws IllegalArgumentException when a row's label is not one of the model's classes (named, with the row)
     */
    public Dataset relabeledFor(List<String> modelClassNames) {
        Objects.requireNonNull(modelClassNames, "modelClassNames");
        if (classNames.isEmpty() || modelClassNames.isEmpty() || classNames.equals(modelClassNames)) {
            return null;
        }
        int[] toModel = new int[classNames.size()];
        for (int c = 0; c < toModel.length; c++) {
            toModel[c] = modelClassNames.indexOf(classNames.get(c));
        }
        int n = size();
        if (labels == null) {
            return targets.dim(1) == classNames.size() ? reorderedTargets(toModel, modelClassNames) : null;
        }
        int[] y = labels.toIntArray();
        for (int i = 0; i < n; i++) {
            int m = toModel[y[i]];
            if (m < 0) {
                throw new IllegalArgumentException("row " + i + " has label '" + classNames.get(y[i])
                        + "', which is not one of the model's classes " + modelClassNames);
            }
            y[i] = m;
        }
        Tensor x = features.copy();
        try {
            return new Dataset(x, Tensor.ofInts(y, n), null, modelClassNames.size(), List.copyOf(modelClassNames));
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
    }

    /** One-hot (or per-class) target columns moved to the model's class order ({@link #relabeledFor}). */
    private Dataset reorderedTargets(int[] toModel, List<String> modelClassNames) {
        int n = size();
        int k = toModel.length;
        int mk = modelClassNames.size();
        float[] t = targets.toFloatArray();
        float[] out = new float[Math.multiplyExact(n, mk)];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < k; c++) {
                float v = t[r * k + c];
                if (v != 0f) {
                    if (toModel[c] < 0) {
                        throw new IllegalArgumentException("row " + r + " has label '" + classNames.get(c)
                                + "', which is not one of the model's classes " + modelClassNames);
                    }
                    out[r * mk + toModel[c]] = v;
                }
            }
        }
        Tensor x = features.copy();
        try {
            return new Dataset(x, null, Tensor.of(out, n, mk), mk, List.copyOf(modelClassNames));
        } catch (RuntimeException e) {
            x.close();
            throw e;
        }
    }

    // ---------------------------------------------------------------- helpers

    /** A permutation of {@code [0, n)} by Fisher-Yates with {@code new Random(seed)}: stable across JDKs. */
    static int[] permutation(int n, long seed) {
        int[] perm = range(0, n);
        Random rnd = new Random(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        return perm;
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    private static void checkFraction(String name, double f) {
        if (!(f >= 0.0 && f <= 1.0)) {
            throw new IllegalArgumentException(name + " must be in [0, 1], got " + f);
        }
    }

    /** Frees the tensors. Idempotent. */
    @Override
    public void close() {
        features.close();
        if (labels != null) {
            labels.close();
        }
        if (targets != null) {
            targets.close();
        }
    }

    @Override
    public String toString() {
        return "Dataset[" + size() + " rows, " + numFeatures() + " features, "
                + (hasLabels() ? numClasses + " classes (labels)" : numClasses + " target columns") + "]";
    }
}
