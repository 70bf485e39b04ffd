package io.dense4j.federated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DirichletPartitionerTest {
    static int[] labels(int n, int classes) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = i % classes;
        }
        return l;
    }

    /** Mean over clients of the total variation distance between a client's label distribution and the global one. */
    static double skew(int[] labels, int[][] parts, int classes) {
        double tv = 0;
        for (int[] p : parts) {
            double[] h = new double[classes];
            for (int r : p) {
                h[labels[r]]++;
            }
            double d = 0;
            for (int c = 0; c < classes; c++) {
                d += Math.abs(h[c] / p.length - 1.0 / classes);
            }
            tv += d / 2;
        }
        return tv / parts.length;
    }

    @Test
    void partitionsCoverEveryRowOnceAndSkewWithSmallAlpha() {
        int[] labels = labels(6001, 10);
        int[][] parts = DirichletPartitioner.partition(labels, 10, 0.5, 50, 1);
        boolean[] seen = new boolean[labels.length];
        for (int[] p : parts) {
            assertTrue(p.length >= 50);
            for (int r : p) {
                assertTrue(!seen[r], "row " + r + " given twice");
                seen[r] = true;
            }
        }
        for (boolean s : seen) {
            assertTrue(s);
        }
        double skewed = skew(labels, parts, 10);
        double iid = skew(labels, DirichletPartitioner.partition(labels, 10, 1000, 50, 1), 10);
        assertTrue(skewed > 0.3, "alpha 0.5 gives clients few classes: " + skewed);
        assertTrue(iid < 0.05, "a large alpha is close to IID: " + iid);
        assertThrows(IllegalArgumentException.class, () -> DirichletPartitioner.partition(labels, 10, 0.5, 700, 1));
    }

    @Test
    void gammaSamplerHasTheRightMoments() {
        SplittableRandom r = new SplittableRandom(4);
        for (double shape : new double[] {0.3, 0.5, 1, 2.5}) {
            int n = 200_000;
            double sum = 0;
            double sq = 0;
            for (int i = 0; i < n; i++) {
                double g = DirichletPartitioner.gamma(shape, r);
                sum += g;
                sq += g * g;
            }
            double mean = sum / n;
            double var = sq / n - mean * mean;
            assertEquals(shape, mean, 5 * Math.sqrt(shape / n), "mean of Gamma(" + shape + ")");
            assertEquals(shape, var, 0.05 * shape + 0.01, "variance of Gamma(" + shape + ")");
        }
    }
}
