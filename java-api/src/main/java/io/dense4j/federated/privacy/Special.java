package io.dense4j.federated.privacy;

/**
 * ln erfc(x) to full double precision for every x, for the accountant's fractional-order series (whose terms
 * need erfc far into its tail, where erfc itself underflows). The JDK has no erfc, so it comes from the
 * regularized incomplete gamma function: erfc(x) = Q(1/2, x²) for x &gt;= 0, with Q from its power series where
 * x² &lt; 1.5 and from its continued fraction (modified Lentz) beyond, the continued fraction evaluated in log
 * space: ln erfc(x) = −x² + ln x − ln √π + ln h.
 */
final class Special {
    private static final double EPS = 1e-16;
    private static final double TINY = 1e-300;
    private static final double LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
    private static final int MAX_ITERATIONS = 10_000;

    private Special() {}

    static double logErfc(double x) {
        if (Double.isNaN(x)) {
            return Double.NaN;
        }
        if (x == Double.POSITIVE_INFINITY) {
            return Double.NEGATIVE_INFINITY;
        }
        if (x <= 0) {
            return Math.log(1 + erfAbs(-x)); // erfc(x) = 1 + erf(|x|) in [1, 2]
        }
        double x2 = x * x;
        if (x2 < 1.5) {
            return Math.log(1 - erfSeries(x));
        }
        return -x2 + Math.log(x) - LOG_SQRT_PI + Math.log(continuedFraction(x2));
    }

    /** erf(x) for x &gt;= 0. */
    private static double erfAbs(double x) {
        if (x == Double.POSITIVE_INFINITY) {
            return 1;
        }
        double x2 = x * x;
        if (x2 < 1.5) {
            return erfSeries(x);
        }
        return 1 - Math.exp(-x2 + Math.log(x) - LOG_SQRT_PI + Math.log(continuedFraction(x2)));
    }

    /** erf(x) = P(1/2, x²) = e^{−x²} x^{2a} / Γ(a) · Σ x^{2n}/(a(a+1)...(a+n)) with a = 1/2. */
    private static double erfSeries(double x) {
        double x2 = x * x;
        double ap = 0.5;
        double del = 1 / ap;
        double sum = del;
        for (int n = 0; n < MAX_ITERATIONS; n++) {
            ap += 1;
            del *= x2 / ap;
            sum += del;
            if (Math.abs(del) < Math.abs(sum) * EPS) {
                break;
            }
        }
        return sum * Math.exp(-x2 + Math.log(x) - LOG_SQRT_PI);
    }

    /** h with Q(1/2, y) = e^{−y} y^{1/2} / Γ(1/2) · h: the continued fraction 1/(y+1−a− 1·(1−a)/(y+3−a− ...)). */
    private static double continuedFraction(double y) {
        double a = 0.5;
        double b = y + 1 - a;
        double c = 1 / TINY;
        double d = 1 / b;
        double h = d;
        for (int i = 1; i < MAX_ITERATIONS; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            if (Math.abs(d) < TINY) {
                d = TINY;
            }
            c = b + an / c;
            if (Math.abs(c) < TINY) {
                c = TINY;
            }
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.abs(del - 1) < EPS) {
                break;
            }
        }
        return h;
    }
}
