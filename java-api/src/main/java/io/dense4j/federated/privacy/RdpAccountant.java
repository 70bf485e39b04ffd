package io.dense4j.federated.privacy;

import java.util.Arrays;

/**
 * Rényi-DP accountant for the Poisson-sampled Gaussian mechanism, the mechanism of DP-FedAvg: every client takes
 * part in a round independently with probability q, its clipped update has L2 sensitivity S, and Gaussian noise of
 * standard deviation z·S is added to the sum (z is the noise multiplier). Neighbouring data sets differ by adding or
 * removing one client (the relation Poisson sampling goes with).
 *
 * <p>RDP of one step at order α is ln(A_α)/(α−1) with A_α from Mironov, Talwar and Zhang 2019 (arXiv:1908.10530,
 * §3.3): a finite binomial sum for integer α, and for fractional α the two-sided series with erfc weights, summed
 * with absolute values of the binomial coefficients (an upper bound, as Google's dp_accounting does since
 * 2024) until both halves decrease and lie 30 nats below the total. RDP composes additively. Conversion to
 * (ε, δ) uses the bound of Balle et al. 2020 (arXiv:2004.00010, Prop. 12), minimised over the orders, for orders
 * above 1.01, and ε = 0 where the KL bound already gives δ.
 *
 * <p>Mutable and not thread-safe; {@link #copy()} makes a what-if copy (e.g. "would one more round exceed the
 * budget?").
 */
public final class RdpAccountant {
    /** dp_accounting's default orders: 1.1, 1.2, ..., 10.9, 11, ..., 63, 128, 256, 512, 1024. */
    public static final double[] DEFAULT_ORDERS = defaultOrders();

    /** The series for fractional orders gives up here and the order is excluded (RDP = ∞), as in dp_accounting. */
    private static final int MAX_SERIES_TERMS = 1000;

    private final double[] orders;
    private final double[] rdp;
    private long steps;

    public RdpAccountant() {
        this(DEFAULT_ORDERS);
    }

    public RdpAccountant(double[] orders) {
        if (orders.length == 0) {
            throw new IllegalArgumentException("at least one RDP order is needed");
        }
        for (double a : orders) {
            if (!(a > 1)) {
                throw new IllegalArgumentException("RDP orders must be > 1, got " + a);
            }
        }
        this.orders = orders.clone();
        this.rdp = new double[orders.length];
    }

    private RdpAccountant(RdpAccountant o) {
        this.orders = o.orders.clone();
        this.rdp = o.rdp.clone();
        this.steps = o.steps;
    }

    public RdpAccountant copy() {
        return new RdpAccountant(this);
    }

    /** Composes {@code count} steps of the Poisson-sampled Gaussian mechanism (rate q, noise multiplier z). */
    public RdpAccountant composePoissonSampledGaussian(double q, double noiseMultiplier, long count) {
        if (count < 0) {
            throw new IllegalArgumentException("step count must be >= 0, got " + count);
        }
        double[] one = rdpPoissonSampledGaussian(q, noiseMultiplier, orders);
        for (int i = 0; i < rdp.length; i++) {
            rdp[i] += count == 0 ? 0 : one[i] * count;
        }
        steps += count;
        return this;
    }

    /** Steps composed so far. */
    public long steps() {
        return steps;
    }

    public double[] orders() {
        return orders.clone();
    }

    /** The accumulated RDP at each order (∞ where the order is unusable). */
    public double[] rdp() {
        return rdp.clone();
    }

    /** The smallest ε for which the composition is (ε, δ)-DP, and the order attaining it. */
    public Guarantee epsilon(double delta) {
        return epsilon(orders, rdp, delta);
    }

    /** The smallest δ for which the composition is (ε, δ)-DP, and the order attaining it. */
    public Guarantee delta(double epsilon) {
        return delta(orders, rdp, epsilon);
    }

    /** An (ε, δ) guarantee and the RDP order it came from. */
    public record Guarantee(double epsilon, double delta, double order) {}

    // ------------------------------------------------------------------------------------------ conversions

    /** ε(δ) = min over α of RDP(α) + ln(1 − 1/α) − ln(δ·α)/(α − 1) (Balle et al. 2020), clamped at 0. */
    public static Guarantee epsilon(double[] orders, double[] rdp, double delta) {
        if (!(delta >= 0 && delta <= 1)) {
            throw new IllegalArgumentException("delta must be in [0, 1], got " + delta);
        }
        checkLengths(orders, rdp);
        if (delta == 0) {
            boolean allZero = Arrays.stream(rdp).allMatch(r -> r == 0);
            return new Guarantee(allZero ? 0 : Double.POSITIVE_INFINITY, 0, Double.NaN);
        }
        double best = Double.POSITIVE_INFINITY;
        double bestOrder = Double.NaN;
        for (int i = 0; i < orders.length; i++) {
            double a = orders[i];
            double r = rdp[i];
            double eps;
            if (r < 0) {
                eps = 0; // numerical noise of an extreme event; dp_accounting returns 0 too
            } else if (delta * delta + Math.expm1(-r) > 0) {
                eps = 0; // the KL bound δ <= sqrt(1 − exp(−RDP)) is already met
            } else if (a > 1.01) {
                eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
            } else {
                eps = Double.POSITIVE_INFINITY; // the bound is unstable as α → 1
            }
            if (eps < best || Double.isNaN(bestOrder)) {
                best = eps;
                bestOrder = a;
            }
        }
        return new Guarantee(Math.max(0, best), delta, bestOrder);
    }

    /** δ(ε) = min over α of the same bound solved for δ, and the KL bound sqrt(1 − exp(−RDP)). */
    public static Guarantee delta(double[] orders, double[] rdp, double epsilon) {
        if (!(epsilon >= 0)) {
            throw new IllegalArgumentException("epsilon must be >= 0, got " + epsilon);
        }
        checkLengths(orders, rdp);
        double bestLog = Double.POSITIVE_INFINITY;
        double bestOrder = Double.NaN;
        for (int i = 0; i < orders.length; i++) {
            double a = orders[i];
            double r = rdp[i];
            double logDelta;
            if (r < 0 || r == 0) {
                logDelta = Double.NEGATIVE_INFINITY;
            } else {
                logDelta = 0.5 * Math.log1p(-Math.exp(-r));
            }
            if (a > 1.01 && r > 0) {
                double bound = (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a);
                if (bound < logDelta) { // NaN (infinite RDP and ε) keeps the KL bound
                    logDelta = bound;
                }
            }
            if (logDelta < bestLog || Double.isNaN(bestOrder)) {
                bestLog = logDelta;
                bestOrder = a;
            }
        }
        return new Guarantee(epsilon, Math.min(Math.exp(bestLog), 1.0), bestOrder);
    }

    private static void checkLengths(double[] orders, double[] rdp) {
        if (orders.length != rdp.length) {
            throw new IllegalArgumentException(orders.length + " orders but " + rdp.length + " RDP values");
        }
    }

    // ------------------------------------------------------------------------------------------ RDP of one step

    /** RDP of one step of the Poisson-sampled Gaussian mechanism at each order. */
    public static double[] rdpPoissonSampledGaussian(double q, double noiseMultiplier, double[] orders) {
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("sampling rate must be in [0, 1], got " + q);
        }
        if (!(noiseMultiplier >= 0)) {
            throw new IllegalArgumentException("noise multiplier must be >= 0, got " + noiseMultiplier);
        }
        double[] r = new double[orders.length];
        for (int i = 0; i < orders.length; i++) {
            r[i] = rdpOneOrder(q, noiseMultiplier, orders[i]);
        }
        return r;
    }

    static double rdpOneOrder(double q, double sigma, double alpha) {
        if (q == 0) {
            return 0;
        }
        if (Double.isInfinite(alpha) || sigma == 0) {
            return Double.POSITIVE_INFINITY;
        }
        if (q == 1) {
            return alpha / (2 * sigma * sigma); // the plain Gaussian mechanism
        }
        double logA = alpha == Math.rint(alpha) && alpha < Integer.MAX_VALUE
                ? logAInteger(q, sigma, (int) alpha)
                : logAFractional(q, sigma, alpha);
        return logA / (alpha - 1);
    }

    /** ln A_α = ln Σ_{i=0}^{α} C(α,i) q^i (1−q)^{α−i} exp((i² − i)/(2σ²)) for integer α, in log space. */
    static double logAInteger(double q, double sigma, int alpha) {
        double logQ = Math.log(q);
        double log1mQ = Math.log1p(-q);
        double logA = Double.NEGATIVE_INFINITY;
        double logBinom = 0; // ln C(α, 0)
        for (int i = 0; i <= alpha; i++) {
            double term = logBinom + i * logQ + (alpha - i) * log1mQ + ((double) i * i - i) / (2 * sigma * sigma);
            logA = logAdd(logA, term);
            logBinom += Math.log((double) (alpha - i) / (i + 1)); // C(α, i+1) = C(α, i)·(α − i)/(i + 1)
        }
        return logA;
    }

    /**
     * ln A_α for fractional α: A_α = A₀ + A₁ with z₀ = σ² ln(1/q − 1) + 1/2,
     * A₀ = Σ_i |C(α,i)| q^i (1−q)^{α−i} e^{(i²−i)/(2σ²)} · erfc((i − z₀)/(√2σ))/2 and
     * A₁ = Σ_i |C(α,i)| q^{α−i} (1−q)^i e^{(j²−j)/(2σ²)} · erfc((z₀ − j)/(√2σ))/2 with j = α − i.
     */
    static double logAFractional(double q, double sigma, double alpha) {
        double logA0 = Double.NEGATIVE_INFINITY;
        double logA1 = Double.NEGATIVE_INFINITY;
        double z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
        double logQ = Math.log(q);
        double log1mQ = Math.log1p(-q);
        double lastS0 = Double.NEGATIVE_INFINITY;
        double lastS1 = Double.NEGATIVE_INFINITY;
        double logAbsBinom = 0; // ln |C(α, 0)|
        double sqrt2Sigma = Math.sqrt(2) * sigma;
        double half = Math.log(0.5);
        for (int i = 0; i < MAX_SERIES_TERMS; i++) {
            double j = alpha - i;
            double t0 = logAbsBinom + i * logQ + j * log1mQ;
            double t1 = logAbsBinom + j * logQ + i * log1mQ;
            double e0 = half + Special.logErfc((i - z0) / sqrt2Sigma);
            double e1 = half + Special.logErfc((z0 - j) / sqrt2Sigma);
            double s0 = t0 + ((double) i * i - i) / (2 * sigma * sigma) + e0;
            double s1 = t1 + (j * j - j) / (2 * sigma * sigma) + e1;
            logA0 = logAdd(logA0, s0);
            logA1 = logAdd(logA1, s1);
            double total = logAdd(logA0, logA1);
            if (s0 < lastS0 && s1 < lastS1 && Math.max(s0, s1) < total - 30) {
                return total;
            }
            lastS0 = s0;
            lastS1 = s1;
            logAbsBinom += Math.log(Math.abs(alpha - i) / (i + 1));
        }
        return Double.POSITIVE_INFINITY;
    }

    /** ln(e^a + e^b) without overflow. */
    static double logAdd(double a, double b) {
        double lo = Math.min(a, b);
        double hi = Math.max(a, b);
        if (lo == Double.NEGATIVE_INFINITY) {
            return hi;
        }
        return Math.log1p(Math.exp(lo - hi)) + hi;
    }

    private static double[] defaultOrders() {
        double[] o = new double[99 + 53 + 4];
        int k = 0;
        for (int x = 1; x < 100; x++) {
            o[k++] = 1 + x / 10.0;
        }
        for (int a = 11; a < 64; a++) {
            o[k++] = a;
        }
        for (int a : new int[] {128, 256, 512, 1024}) {
            o[k++] = a;
        }
        return o;
    }
}
