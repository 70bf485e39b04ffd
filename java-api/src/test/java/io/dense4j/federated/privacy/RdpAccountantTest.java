package io.dense4j.federated.privacy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.DoubleStream;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The accountant against the published reference values (each cited with the test it comes from), and against an
 * independent float64 reference: A_α integrated numerically from its definition.
 */
class RdpAccountantTest {
    /** tensorflow/privacy compute_dp_sgd_privacy_lib's order list. */
    static final double[] TFP_ORDERS = DoubleStream.concat(
            DoubleStream.of(1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5),
            DoubleStream.concat(IntStream.range(5, 64).asDoubleStream(), DoubleStream.of(128, 256, 512))).toArray();
    /** Opacus's default orders: 1.1 ... 10.9, 12 ... 63. */
    static final double[] OPACUS_ORDERS = DoubleStream.concat(IntStream.range(1, 100).mapToDouble(x -> 1 + x / 10.0),
            IntStream.range(12, 64).asDoubleStream()).toArray();

    static RdpAccountant.Guarantee run(double q, double z, long steps, double delta, double[] orders) {
        return new RdpAccountant(orders).composePoissonSampledGaussian(q, z, steps).epsilon(delta);
    }

    @Test
    void tensorflowPrivacyDpSgdCases() {
        // tensorflow/privacy compute_dp_sgd_privacy_test.py Test0/Test1: assertAlmostEqual (7 places) and the order
        RdpAccountant.Guarantee g0 = run(150 / 60000.0, 1.3, 6000, 1e-5, TFP_ORDERS);
        assertEquals(0.7242234026109595, g0.epsilon(), 1e-7);
        assertEquals(19, g0.order());
        RdpAccountant.Guarantee g1 = run(100 / 1e5, 1.0, 30000, 1e-7, TFP_ORDERS);
        assertEquals(1.4154988495444845, g1.epsilon(), 1e-7);
        assertEquals(13, g1.order());
        // Test2: n = 1e8, batch 1024, 10 epochs -> ceil(10 * 1e8 / 1024) steps; a stress case, compared relatively
        RdpAccountant.Guarantee g2 = run(1024 / 1e8, 0.1, (long) Math.ceil(10 * 1e8 / 1024), 1e-7, TFP_ORDERS);
        assertEquals(5907982.31138195, g2.epsilon(), 5907982.31138195 * 1e-9);
        assertEquals(1.25, g2.order());
    }

    @Test
    void opacusRdpAccountantCase() {
        // pytorch/opacus accountants_test.py test_rdp_accountant: 7.32911117143 with Opacus's signed fractional series;
        // ours sums absolute values (dp_accounting's upper bound), so it may only be slightly larger
        double eps = run(0.04, 1.5, 2250, 1e-5, OPACUS_ORDERS).epsilon();
        assertEquals(7.32911117143, eps, 7.33 * 1e-4);
        assertTrue(eps >= 7.32911117143 - 1e-9, "an upper bound cannot be below the exact value: " + eps);
    }

    @Test
    void dpAccountingRdpVector() {
        // google/differential-privacy rdp_privacy_accountant_test.py test_compute_rdp_poisson_sampled_gaussian, rtol 1e-4
        double[] orders = {1.5, 2.5, 5, 50, 100, Double.POSITIVE_INFINITY};
        double[] expected = {6.70579741e-04, 1.08548710e-03, 2.18075656e-03, 2.38460375e-02, 1.67416308e02,
            Double.POSITIVE_INFINITY};
        double[] rdp = new double[orders.length];
        for (int i = 0; i < orders.length; i++) {
            rdp[i] = 50 * RdpAccountant.rdpOneOrder(0.01, 2.5, orders[i]);
        }
        for (int i = 0; i < orders.length; i++) {
            if (Double.isInfinite(expected[i])) {
                assertEquals(Double.POSITIVE_INFINITY, rdp[i]);
            } else {
                assertEquals(expected[i], rdp[i], expected[i] * 1e-4, "order " + orders[i]);
            }
        }
    }

    @Test
    void dpAccountingConversions() {
        // test_compute_epsilon_delta_pure_dp: constant RDP 1.1 over orders 2..32
        double[] orders = IntStream.rangeClosed(2, 32).asDoubleStream().toArray();
        double[] rdp = new double[orders.length];
        java.util.Arrays.fill(rdp, 1.1);
        RdpAccountant.Guarantee e = RdpAccountant.epsilon(orders, rdp, 1e-5);
        assertEquals(1.32783806176, e.epsilon(), 1e-7);
        assertEquals(32, e.order());
        RdpAccountant.Guarantee d = RdpAccountant.delta(orders, rdp, 1.32783806176);
        assertEquals(1e-5, d.delta(), 1e-12);
        assertEquals(32, d.order());

        // test_compute_epsilon_delta_gaussian: q = 1, sigma chosen to give exactly (1, 1e-6)-DP
        double[] fine = IntStream.range(1000, 100000).mapToDouble(i -> 0.001 * i).toArray();
        double[] fineOrders = DoubleStream.of(fine).filter(a -> a > 1).toArray();
        double[] g = RdpAccountant.rdpPoissonSampledGaussian(1, 4.530877117, fineOrders);
        assertEquals(1, RdpAccountant.epsilon(fineOrders, g, 1e-6).epsilon(), 1e-7);
        assertEquals(1e-6, RdpAccountant.delta(fineOrders, g, 1).delta(), 1e-12);
    }

    @Test
    void epsilonAndDeltaAreInverse() {
        // as dp_accounting's test_epsilon_delta_consistency, over sampling rates and noise levels
        double[] orders = IntStream.range(2, 50).asDoubleStream().toArray();
        for (double q : new double[] {0, 0.01, 0.1, 0.8, 1.0}) {
            for (double z : new double[] {0.0, 0.1, 1.0, 10.0, 100.0}) {
                RdpAccountant acc = new RdpAccountant(orders).composePoissonSampledGaussian(q, z, 1);
                for (double delta : new double[] {0.99, 0.9, 0.1, 0.01, 1e-3, 1e-5, 1e-9, 1e-12}) {
                    double eps = acc.epsilon(delta).epsilon();
                    double delta2 = acc.delta(eps).delta();
                    if (Double.isInfinite(eps)) {
                        assertEquals(1.0, delta2);
                    } else if (eps == 0) {
                        assertTrue(delta2 <= delta, q + " " + z + " " + delta);
                    } else {
                        assertEquals(delta, delta2, delta * 1e-6, "q " + q + " z " + z);
                    }
                }
            }
        }
    }

    @Test
    void composesAdditivelyAndGrowsWithRounds() {
        RdpAccountant a = new RdpAccountant().composePoissonSampledGaussian(0.3, 1.1, 10);
        RdpAccountant b = new RdpAccountant();
        for (int i = 0; i < 10; i++) {
            b.composePoissonSampledGaussian(0.3, 1.1, 1);
        }
        double[] ra = a.rdp();
        double[] rb = b.rdp();
        for (int i = 0; i < ra.length; i++) {
            assertEquals(ra[i], rb[i], Math.abs(ra[i]) * 1e-12);
        }
        assertEquals(10, b.steps());
        RdpAccountant c = b.copy().composePoissonSampledGaussian(0.3, 1.1, 1);
        assertTrue(c.epsilon(1e-5).epsilon() > b.epsilon(1e-5).epsilon());
        assertEquals(10, b.steps(), "copy() must not share state");
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> new RdpAccountant().composePoissonSampledGaussian(1.1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new RdpAccountant().composePoissonSampledGaussian(0.1, -1, 1));
        assertThrows(IllegalArgumentException.class, () -> new RdpAccountant(new double[] {0.5}));
        assertThrows(IllegalArgumentException.class, () -> new RdpAccountant().epsilon(-1));
    }

    // ------------------------------------------------------------------------------------------ independent reference

    /**
     * ln A_α integrated from the definition A_α = E_{z~N(0,σ²)}[((1−q) + q·exp((2z−1)/(2σ²)))^α] with Simpson's rule in
     * log space over [−40σ, α + 40σ] (the integrand peaks near z = α for large α).
     */
    static double logAByIntegration(double q, double sigma, double alpha) {
        double lo = -40 * sigma;
        double hi = alpha + 40 * sigma;
        int n = 400_000;
        double h = (hi - lo) / n;
        double[] logF = new double[n + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k <= n; k++) {
            double z = lo + k * h;
            double logMu0 = -z * z / (2 * sigma * sigma) - Math.log(sigma * Math.sqrt(2 * Math.PI));
            double a = Math.log1p(-q);
            double b = Math.log(q) + (2 * z - 1) / (2 * sigma * sigma);
            double logRatio = Math.max(a, b) + Math.log1p(Math.exp(-Math.abs(a - b)));
            logF[k] = logMu0 + alpha * logRatio;
            max = Math.max(max, logF[k]);
        }
        double sum = 0;
        for (int k = 0; k <= n; k++) {
            double w = k == 0 || k == n ? 1 : (k % 2 == 1 ? 4 : 2);
            sum += w * Math.exp(logF[k] - max);
        }
        return max + Math.log(sum * h / 3);
    }

    @Test
    void integerOrdersEqualTheIntegral() {
        double[][] cases = {{0.01, 2.5, 2}, {0.0025, 1.3, 19}, {0.3, 1.1, 7}, {0.8, 0.8, 3}, {0.5, 4.0, 33}, {0.04, 1.5, 12}};
        for (double[] c : cases) {
            double ours = RdpAccountant.logAInteger(c[0], c[1], (int) c[2]);
            double ref = logAByIntegration(c[0], c[1], c[2]);
            assertEquals(ref, ours, Math.max(1e-9, Math.abs(ref) * 1e-9), "q " + c[0] + " sigma " + c[1] + " order " + c[2]);
        }
    }

    @Test
    void fractionalOrdersAreTightUpperBoundsOfTheIntegral() {
        double[][] cases = {{0.01, 2.5, 1.5}, {0.04, 1.5, 3.9}, {0.3, 1.1, 7.3}, {0.8, 0.8, 1.7}, {0.2, 4.0, 10.9},
            {0.0025, 1.3, 18.5}};
        for (double[] c : cases) {
            double ours = RdpAccountant.rdpOneOrder(c[0], c[1], c[2]);
            double ref = logAByIntegration(c[0], c[1], c[2]) / (c[2] - 1);
            String what = "q " + c[0] + " sigma " + c[1] + " order " + c[2] + ": ours " + ours + " exact " + ref;
            assertTrue(ours >= ref * (1 - 1e-9), what);
            assertTrue(ours <= ref * 1.05, what);
        }
    }

    @Test
    void logErfcMatchesScipy() {
        // scipy 1.17.1: log(2) + scipy.special.log_ndtr(-x * sqrt(2)) (what dp_accounting uses)
        double[][] ref = {{-30, 0.6931471805599453}, {-3, 0.6931361352504468}, {-1.2, 0.6472676150562197},
            {-0.5, 0.4190391477755596}, {0, 0.0}, {1e-3, -0.001129015889621443}, {0.3, -0.39843005144008525},
            {0.5, -0.7350111298370848}, {1.0, -1.849605509933249}, {1.2247, -2.485597110524127},
            {1.2248, -2.48589949162948}, {2, -5.36494126461664}, {3.5, -14.112437402148178}, {10, -102.87988902484493},
            {30, -903.9741171106442}, {1e3, -1000007.4801207221}};
        for (double[] r : ref) {
            assertEquals(r[1], Special.logErfc(r[0]), Math.max(1e-15, Math.abs(r[1]) * 1e-13), "x = " + r[0]);
        }
    }
}
