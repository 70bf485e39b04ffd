package io.dense4j.tune;

/**
 * The Halton sequence, unscrambled: coordinate d of point i is the radical inverse of i + 1 in the d-th prime
 * base (starting at i + 1 so that no coordinate is 0). Low discrepancy in few dimensions (256 points in 4-D: an
 * L2-star discrepancy^2 0.18x that of random points); in more dimensions the large prime bases have not cycled
 * at small n and the early points are correlated (256 points in 8-D: 1.3x random's), which is why {@link Sobol}
 * (0.49x at 8-D) is the default quasi-random sampler.
 */
public final class Halton {
    private static final int[] PRIMES = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71,
            73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173};

    public static final int MAX_DIMENSIONS = PRIMES.length;

    private final int dimensions;

    public Halton(int dimensions) {
        if (dimensions < 1 || dimensions > MAX_DIMENSIONS) {
            throw new IllegalArgumentException("Halton points have 1 to " + MAX_DIMENSIONS + " dimensions, asked for "
                    + dimensions);
        }
        this.dimensions = dimensions;
    }

    public int dimensions() {
        return dimensions;
    }

    /** Point {@code index} (0-based), each coordinate in (0, 1). */
    public double[] point(long index) {
        if (index < 0 || index == Long.MAX_VALUE) {
            throw new IllegalArgumentException("Halton index must be in [0, 2^63 - 1), got " + index);
        }
        double[] x = new double[dimensions];
        for (int d = 0; d < dimensions; d++) {
            x[d] = radicalInverse(index + 1, PRIMES[d]);
        }
        return x;
    }

    static double radicalInverse(long i, int base) {
        double inv = 1.0 / base;
        double f = inv;
        double r = 0;
        while (i > 0) {
            r += f * (i % base);
            i /= base;
            f *= inv;
        }
        return r;
    }
}
