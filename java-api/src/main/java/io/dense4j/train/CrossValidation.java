package io.dense4j.train;

import io.dense4j.data.Dataset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * k-fold cross-validation: the rows are shuffled once by the seed and cut into k folds; each fold is the
 * test set of one freshly built model trained on the other k-1 folds.
 */
public final class CrossValidation {
    private CrossValidation() {}

    /** One fold's outcome. */
    public record FoldResult(int fold, int trainRows, int testRows, double loss, double accuracy, History history) {}

    /** All folds, with mean and sample standard deviation of the test metrics. */
    public record Report(List<FoldResult> folds) {
        public double meanLoss() {
            return mean(folds.stream().mapToDouble(FoldResult::loss).toArray());
        }

        public double stdLoss() {
            return std(folds.stream().mapToDouble(FoldResult::loss).toArray());
        }

        public double meanAccuracy() {
            return mean(folds.stream().mapToDouble(FoldResult::accuracy).toArray());
        }

        public double stdAccuracy() {
            return std(folds.stream().mapToDouble(FoldResult::accuracy).toArray());
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder();
            for (FoldResult f : folds) {
                b.append(String.format("fold %d: train %d, test %d - loss %.4f - accuracy %.4f%n",
                        f.fold() + 1, f.trainRows(), f.testRows(), f.loss(), f.accuracy()));
            }
            b.append(String.format("mean: loss %.4f ± %.4f - accuracy %.4f ± %.4f%n",
                    meanLoss(), stdLoss(), meanAccuracy(), stdAccuracy()));
            return b.toString();
        }
    }

    /** k folds with {@code Fit.epochs(5).batchSize(32)} and seed 0. */
    public static Report kFold(int k, Supplier<? extends TrainableModel> modelFactory, Dataset data) {
        return kFold(k, modelFactory, data, Fit.epochs(5).batchSize(32), 0);
    }

    /**
     * @param modelFactory builds a new COMPILED model for each fold (closed here after evaluation)
     * @param fit          training settings of every fold (its seed also seeds each model's initialization)
     * @param seed         shuffles the rows before cutting the folds
     */
    public static Report kFold(int k, Supplier<? extends TrainableModel> modelFactory, Dataset data, Fit fit, long seed) {
        List<FoldRows> cuts = folds(data.size(), k, seed);
        List<FoldResult> results = new ArrayList<>();
        for (int f = 0; f < k; f++) {
            int[] train = cuts.get(f).train();
            int[] test = cuts.get(f).test();
            try (Dataset trainSet = data.subset(train); Dataset testSet = data.subset(test);
                 TrainableModel model = modelFactory.get()) {
                History h = model.fit(trainSet, fit);
                Evaluation e = model.evaluate(testSet);
                results.add(new FoldResult(f, train.length, test.length, e.loss(), e.accuracy(), h));
            }
        }
        return new Report(List.copyOf(results));
    }

    /** The rows of one fold: {@code test} is the held-out fold, {@code train} every other row. */
    public record FoldRows(int[] train, int[] test) {}

    /**
     * The folds {@link #kFold} uses: rows 0..n-1 shuffled once by {@code seed}, cut into k contiguous folds whose
     * sizes differ by at most one. Exposed so that other fold loops (the tuner's resumable one) cut the same folds.
     */
    public static List<FoldRows> folds(int n, int k, long seed) {
        if (k < 2 || k > n) {
            throw new IllegalArgumentException("k must be in [2, " + n + "], got " + k);
        }
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        List<FoldRows> folds = new ArrayList<>(k);
        for (int f = 0; f < k; f++) {
            int from = (int) ((long) f * n / k);
            int to = (int) ((long) (f + 1) * n / k);
            int[] test = Arrays.copyOfRange(idx, from, to);
            int[] train = new int[n - test.length];
            System.arraycopy(idx, 0, train, 0, from);
            System.arraycopy(idx, to, train, from, n - to);
            folds.add(new FoldRows(train, test));
        }
        return List.copyOf(folds);
    }

    static double mean(double[] v) {
        return Arrays.stream(v).average().orElse(Double.NaN);
    }

    static double std(double[] v) {
        if (v.length < 2) {
            return 0;
        }
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }
}
