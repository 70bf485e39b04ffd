package io.dense4j.federated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.federated.protocol.TrainingPlan;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Losses;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Local training against float64 references: FedProx's proximal splitting step by step, and its fixed point, which
 * must be the minimiser of FedProx's local objective F(w) + (μ/2)‖w − w_t‖² (here a ridge-like linear system).
 */
class LocalTrainerTest {
    static final int N = 31;
    static final int D = 5;

    final float[][] x = new float[N][D];
    final float[] y = new float[N];

    LocalTrainerTest() {
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < N; i++) {
            double t = 0.3;
            for (int j = 0; j < D; j++) {
                x[i][j] = (float) r.nextGaussian();
                t += (j + 1) * 0.2 * x[i][j];
            }
            y[i] = (float) (t + 0.1 * r.nextGaussian());
        }
    }

    /** A linear model y = x·W + b trained with MSE and plain SGD; parameters are [W (D), b]. */
    Sequential linear(double lr) {
        Sequential m = Sequential.of(Dense.of(D, 1, Activation.LINEAR));
        m.compile(Optimizers.sgd(lr), Losses.MEAN_SQUARED_ERROR);
        return m;
    }

    /** ∇ of mean((x·W + b − y)²) at θ = [W, b], in float64. */
    double[] gradient(double[] theta) {
        double[] g = new double[D + 1];
        for (int i = 0; i < N; i++) {
            double e = theta[D] - y[i];
            for (int j = 0; j < D; j++) {
                e += x[i][j] * theta[j];
            }
            for (int j = 0; j < D; j++) {
                g[j] += 2 * e * x[i][j] / N;
            }
            g[D] += 2 * e / N;
        }
        return g;
    }

    static TrainingPlan plan(int epochs, double mu) {
        return new TrainingPlan(epochs, N, mu, 1, 0, false, 1000, false);
    }

    @Test
    void proximalStepsMatchTheFloat64Reference() {
        double lr = 0.05;
        double mu = 0.7;
        float[] global = {0.3f, -0.2f, 0.5f, 0.1f, -0.4f, 0.05f};
        try (Sequential m = linear(lr); Dataset data = Dataset.ofTargets(x, y)) {
            LocalTrainer.Result r = LocalTrainer.train(m, data, global, plan(7, mu), N, 1);
            double[] theta = new double[D + 1];
            for (int i = 0; i <= D; i++) {
                theta[i] = global[i];
            }
            for (int step = 0; step < 7; step++) { // full batch: one step per epoch
                double[] g = gradient(theta);
                for (int i = 0; i <= D; i++) {
                    double forward = theta[i] - lr * g[i];
                    theta[i] = global[i] + (forward - global[i]) / (1 + lr * mu);
                }
            }
            assertEquals(7, r.steps());
            for (int i = 0; i <= D; i++) {
                assertEquals(theta[i] - global[i], r.delta()[i], 2e-6, "parameter " + i);
            }
        }
    }

    @Test
    void proximalSgdConvergesToFedProxsLocalOptimum() {
        double lr = 0.05;
        float[] global = {1f, -1f, 0.5f, 0f, 2f, -0.5f};
        for (double mu : new double[] {0.1, 1.0, 10.0}) {
            try (Sequential m = linear(lr); Dataset data = Dataset.ofTargets(x, y)) {
                LocalTrainer.Result r = LocalTrainer.train(m, data, global, plan(600, mu), N, 2);
                double[] opt = fedProxOptimum(global, mu);
                for (int i = 0; i <= D; i++) {
                    assertEquals(opt[i], global[i] + r.delta()[i], 1e-4, "mu " + mu + " parameter " + i);
                }
            }
        }
        // a larger mu keeps the local model closer to the global one
        try (Sequential a = linear(lr); Sequential b = linear(lr); Dataset data = Dataset.ofTargets(x, y)) {
            double weak = LocalTrainer.l2(LocalTrainer.train(a, data, global, plan(50, 0.01), 8, 3).delta());
            double strong = LocalTrainer.l2(LocalTrainer.train(b, data, global, plan(50, 5), 8, 3).delta());
            assertTrue(strong < weak * 0.7, "update norms: mu 0.01 " + weak + ", mu 5 " + strong);
        }
    }

    /** Solves ((2/N)·XᵀX + μI) θ = (2/N)·Xᵀy + μ θ_t with X augmented by a column of ones (the bias). */
    double[] fedProxOptimum(float[] global, double mu) {
        int k = D + 1;
        double[][] a = new double[k][k + 1];
        for (int i = 0; i < N; i++) {
            double[] row = new double[k];
            for (int j = 0; j < D; j++) {
                row[j] = x[i][j];
            }
            row[D] = 1;
            for (int p = 0; p < k; p++) {
                for (int q = 0; q < k; q++) {
                    a[p][q] += 2 * row[p] * row[q] / N;
                }
                a[p][k] += 2 * row[p] * y[i] / N;
            }
        }
        for (int p = 0; p < k; p++) {
            a[p][p] += mu;
            a[p][k] += mu * global[p];
        }
        for (int c = 0; c < k; c++) { // Gauss-Jordan with partial pivoting
            int piv = c;
            for (int r = c + 1; r < k; r++) {
                if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) {
                    piv = r;
                }
            }
            double[] t = a[c];
            a[c] = a[piv];
            a[piv] = t;
            for (int r = 0; r < k; r++) {
                if (r != c) {
                    double f = a[r][c] / a[c][c];
                    for (int q = c; q <= k; q++) {
                        a[r][q] -= f * a[c][q];
                    }
                }
            }
        }
        double[] theta = new double[k];
        for (int p = 0; p < k; p++) {
            theta[p] = a[p][k] / a[p][p];
        }
        return theta;
    }

    @Test
    void uploadVectorClipsWeightsAndAppendsTheWeight() {
        float[] delta = {3f, 4f}; // norm 5
        TrainingPlan weighted = new TrainingPlan(1, 32, 0, 1, 2.5, false, 100, false);
        float[] v = LocalTrainer.uploadVector(delta, 40, weighted);
        assertEquals(3, v.length);
        assertEquals(3 * 0.5 * 0.4, v[0], 1e-6);
        assertEquals(4 * 0.5 * 0.4, v[1], 1e-6);
        assertEquals(0.4, v[2], 1e-6);
        float[] capped = LocalTrainer.uploadVector(delta, 1000, weighted);
        assertEquals(1.0, capped[2], 0);
        TrainingPlan uniform = new TrainingPlan(1, 32, 0, 1, 10, true, 100, false);
        float[] u = LocalTrainer.uploadVector(delta, 40, uniform);
        assertEquals(2, u.length);
        assertEquals(3f, u[0], 0);
        TrainingPlan unclipped = new TrainingPlan(1, 32, 0, 1, 0, false, 100, false);
        assertEquals(3 * 0.4, LocalTrainer.uploadVector(delta, 40, unclipped)[0], 1e-6);
    }
}
