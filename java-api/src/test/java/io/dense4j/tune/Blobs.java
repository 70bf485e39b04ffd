package io.dense4j.tune;

import io.dense4j.data.Dataset;
import java.util.SplittableRandom;

/** Gaussian clusters: a small classification problem a dense network learns in a few epochs. */
final class Blobs {
    private Blobs() {}

    static Dataset of(int rows, int features, int classes, double noise, long seed) {
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
                double u1 = rng.nextDouble();
                double u2 = rng.nextDouble();
                double g = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
                x[r][j] = (float) (centers[y[r]][j] + noise * g);
            }
        }
        return Dataset.of(x, y, classes, java.util.List.of());
    }
}
