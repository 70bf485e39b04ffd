package io.dense4j.tune;

import java.util.SplittableRandom;

/**
 * The Sobol low-discrepancy sequence in up to {@link #MAX_DIMENSIONS} dimensions, with the direction numbers of
 * Joe and Kuo ("new-joe-kuo-6.21201", the table SciPy and Boost use as well), so its 2-D projections have the
 * good t-values that table was searched for. Point {@code i} is computed directly as the XOR of the direction
 * numbers of the bits of {@code i} (natural order, not Gray-code order: the first 2^m points are the same set).
 *
 * <p>Unscrambled, point 0 is the origin. {@link #shifted} applies a random digital shift (XOR of one random
 * 32-bit word per dimension): every point moves, but the (t, m, s)-net structure, and so the low discrepancy,
 * is kept. It is not Owen's nested scrambling.
 */
public final class Sobol {
    /** Bits of precision per coordinate. */
    static final int BITS = 32;

    /**
     * Dimensions 2..40 as {primitive polynomial with its leading and trailing 1 bits, m_1 .. m_s}; dimension 1 is
     * the van der Corput sequence in base 2.
     */
    private static final int[][] JOE_KUO = {
            {3, 1}, {7, 1, 3}, {11, 1, 3, 1}, {13, 1, 1, 1}, {19, 1, 1, 3, 3}, {25, 1, 3, 5, 13},
            {37, 1, 1, 5, 5, 17}, {41, 1, 1, 5, 5, 5}, {47, 1, 1, 7, 11, 19}, {55, 1, 1, 5, 1, 1},
            {59, 1, 1, 1, 3, 11}, {61, 1, 3, 5, 5, 31}, {67, 1, 3, 3, 9, 7, 49}, {91, 1, 1, 1, 15, 21, 21},
            {97, 1, 3, 1, 13, 27, 49}, {103, 1, 1, 1, 15, 7, 5}, {109, 1, 3, 1, 15, 13, 25},
            {115, 1, 1, 5, 5, 19, 61}, {131, 1, 3, 7, 11, 23, 15, 103}, {137, 1, 3, 7, 13, 13, 15, 69},
            {143, 1, 1, 3, 13, 7, 35, 63}, {145, 1, 3, 5, 9, 1, 25, 53}, {157, 1, 3, 1, 13, 9, 35, 107},
            {167, 1, 3, 1, 5, 27, 61, 31}, {171, 1, 1, 5, 11, 19, 41, 61}, {185, 1, 3, 5, 3, 3, 13, 69},
            {191, 1, 1, 7, 13, 1, 19, 1}, {193, 1, 3, 7, 5, 13, 19, 59}, {203, 1, 1, 3, 9, 25, 29, 41},
            {211, 1, 3, 5, 13, 23, 1, 55}, {213, 1, 3, 7, 3, 13, 59, 17}, {229, 1, 3, 1, 3, 5, 53, 69},
            {239, 1, 1, 5, 5, 23, 33, 13}, {241, 1, 1, 7, 7, 1, 61, 123}, {247, 1, 1, 7, 9, 13, 61, 49},
            {253, 1, 3, 3, 5, 3, 55, 33}, {285, 1, 3, 1, 15, 31, 13, 49, 245}, {299, 1, 3, 5, 15, 31, 59, 63, 97},
            {301, 1, 3, 1, 11, 11, 11, 77, 249},
    };

    public static final int MAX_DIMENSIONS = JOE_KUO.length + 1;

    /** direction[d][k]: the k-th direction number of dimension d, as a 32-bit binary fraction. */
    private final int[][] direction;
    private final int[] shift;

    private Sobol(int dimensions, int[] shift) {
        if (dimensions < 1 || dimensions > MAX_DIMENSIONS) {
            throw new IllegalArgumentException("Sobol points have 1 to " + MAX_DIMENSIONS + " dimensions, asked for "
                    + dimensions);
        }
        this.direction = new int[dimensions][];
        for (int d = 0; d < dimensions; d++) {
            direction[d] = directionNumbers(d);
        }
        this.shift = shift;
    }

    /** The plain sequence (point 0 is the origin). */
    public static Sobol unscrambled(int dimensions) {
        return new Sobol(dimensions, new int[dimensions]);
    }

    /** The sequence with a random digital shift drawn from {@code seed}. */
    public static Sobol shifted(int dimensions, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] s = new int[dimensions];
        for (int d = 0; d < dimensions; d++) {
            s[d] = rng.nextInt();
        }
        return new Sobol(dimensions, s);
    }

    public int dimensions() {
        return direction.length;
    }

    /** Point {@code index} (0-based), each coordinate in [0, 1). Indices up to 2^32 - 1 are distinct points. */
    public double[] point(long index) {
        if (index < 0 || index >= (1L << BITS)) {
            throw new IllegalArgumentException("Sobol index must be in [0, 2^32), got " + index);
        }
        double[] x = new double[direction.length];
        for (int d = 0; d < direction.length; d++) {
            int v = shift[d];
            long i = index;
            for (int k = 0; i != 0; k++, i >>>= 1) {
                if ((i & 1) != 0) {
                    v ^= direction[d][k];
                }
            }
            x[d] = Integer.toUnsignedLong(v) / 4294967296.0;
        }
        return x;
    }

    /** The BITS direction numbers of dimension d (0-based) by the Bratley-Fox recurrence on m_k. */
    private static int[] directionNumbers(int d) {
        int[] v = new int[BITS];
        if (d == 0) {
            for (int k = 0; k < BITS; k++) {
                v[k] = 1 << (BITS - 1 - k);
            }
            return v;
        }
        int[] row = JOE_KUO[d - 1];
        int poly = row[0];
        int s = 31 - Integer.numberOfLeadingZeros(poly); // degree
        int a = (poly >>> 1) & ((1 << (s - 1)) - 1);     // the inner coefficients a_1 .. a_{s-1}
        long[] m = new long[BITS];
        for (int k = 0; k < s && k < BITS; k++) {
            m[k] = row[k + 1];
        }
        for (int k = s; k < BITS; k++) {
            long mk = m[k - s] ^ (m[k - s] << s);
            for (int j = 1; j < s; j++) {
                if (((a >>> (s - 1 - j)) & 1) != 0) {
                    mk ^= m[k - j] << j;
                }
            }
            m[k] = mk;
        }
        for (int k = 0; k < BITS; k++) {
            v[k] = (int) (m[k] << (BITS - 1 - k));
        }
        return v;
    }
}
