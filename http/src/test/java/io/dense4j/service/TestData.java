package io.dense4j.service;

import io.dense4j.data.Dataset;
import io.dense4j.service.job.DatasetResolver;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Gaussian-cluster data sets addressed by fake SHA-256s, for job tests. */
final class TestData {
    static final String BLOBS = "b".repeat(64);
    static final String BIG = "c".repeat(64);
    static final String WIDE = "d".repeat(64);
    static final String NOISY = "f".repeat(64);

    private TestData() {}

    static Dataset blobs(int rows, int features, int classes, double noise, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        double[][] centers = new double[classes][features];
        for (double[] c : centers) {
            for (int j = 0; j < features; j++) {
                c[j] = rng.nextDouble() * 4 - 2;
            }
        }
        float[][] x = new float[rows][features];
        int[] y = new int[rows];
        for (int r = 0; r < rows; r++) {
            y[r] = r % classes;
            for (int j = 0; j < features; j++) {
                double g = Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble());
                x[r][j] = (float) (centers[y[r]][j] + noise * g);
            }
        }
        return Dataset.of(x, y, classes, List.of("a", "b", "c").subList(0, classes));
    }

    /**
     * BLOBS: 600 rows, 8 features, 3 classes; BIG: 40000 rows (slow enough to cancel); WIDE: 12 features; NOISY: as
     * BLOBS with overlapping clusters (validation loss soon stops improving).
     */
    static DatasetResolver resolver() {
        Map<String, Integer> rows = Map.of(BLOBS, 600, BIG, 40_000, WIDE, 600, NOISY, 600);
        return sha -> {
            Integer n = rows.get(sha);
            if (n == null) {
                throw new IllegalArgumentException("no data set " + sha);
            }
            return allocation -> new DatasetResolver.Loaded(blobs(n, sha.equals(WIDE) ? 12 : 8, 3,
                    sha.equals(NOISY) ? 3.0 : 1.5, 7), null);
        };
    }
}
