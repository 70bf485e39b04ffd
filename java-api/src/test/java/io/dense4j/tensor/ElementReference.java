package io.dense4j.tensor;

import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * Reference values of the element types, written from the formats' definitions in float64 (or exactly, with
 * BigDecimal) and independent of {@link ElementCodec}'s bit manipulation: what its tests and the tests of its users
 * compare against.
 */
public final class ElementReference {
    private ElementReference() {
    }

    /** The value of binary16 bits from IEEE 754's definition, in float64; NaN for the NaN patterns. */
    public static double halfValue(int h) {
        int sign = h >>> 15;
        int e = (h >>> 10) & 0x1f;
        int m = h & 0x3ff;
        double magnitude;
        if (e == 31) {
            magnitude = m == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (e == 0) {
            magnitude = m * Math.pow(2, -24);
        } else {
            magnitude = (1 + m / 1024.0) * Math.pow(2, e - 15);
        }
        return sign == 1 ? -magnitude : magnitude;
    }

    /** The value of bfloat16 bits: 1 sign, 8 exponent (bias 127), 7 fraction bits. */
    public static double bfloat16Value(int b) {
        int sign = b >>> 15;
        int e = (b >>> 7) & 0xff;
        int m = b & 0x7f;
        double magnitude;
        if (e == 255) {
            magnitude = m == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (e == 0) {
            magnitude = m * Math.pow(2, -133);
        } else {
            magnitude = (1 + m / 128.0) * Math.pow(2, e - 127);
        }
        return sign == 1 ? -magnitude : magnitude;
    }

    /**
     * x rounded to a binary format with {@code fractionBits}, smallest normal exponent {@code minExp} and the given
     * overflow threshold (the midpoint between the largest finite value and the next power of two), to nearest
     * even: scale so that the format's unit in the last place is 1, Math.rint (ties to even), scale back. All exact
     * in float64 for the formats tested.
     */
    public static double roundTo(double x, int fractionBits, int minExp, double overflow) {
        double a = Math.abs(x);
        if (a >= overflow) {
            return Math.copySign(Double.POSITIVE_INFINITY, x);
        }
        if (a == 0) {
            return x;
        }
        double ulp = Math.scalb(1.0, Math.max(Math.getExponent(a), minExp) - fractionBits);
        return Math.copySign(Math.rint(a / ulp) * ulp, x);
    }

    public static final double HALF_OVERFLOW = 65520; // (65504 + 65536) / 2
    public static final double BF16_OVERFLOW = (2 - 0x1p-8) * 0x1p127;

    public static double roundToHalf(double x) {
        return roundTo(x, 10, -14, HALF_OVERFLOW);
    }

    public static double roundToBfloat16(double x) {
        return roundTo(x, 7, -126, BF16_OVERFLOW);
    }

    /** The float nearest to the integer v, ties to even, found by exact comparison with BigDecimal. */
    public static float nearestFloat(BigInteger v) {
        BigDecimal exact = new BigDecimal(v);
        float lo = v.floatValue(); // a first guess, corrected below: only exact comparisons decide
        while (new BigDecimal(lo).compareTo(exact) > 0) {
            lo = Math.nextDown(lo);
        }
        while (new BigDecimal(Math.nextUp(lo)).compareTo(exact) <= 0) {
            lo = Math.nextUp(lo);
        }
        float hi = Math.nextUp(lo);
        int c = exact.subtract(new BigDecimal(lo)).compareTo(new BigDecimal(hi).subtract(exact));
        if (c < 0 || (c == 0 && (Float.floatToRawIntBits(lo) & 1) == 0)) {
            return lo;
        }
        return hi;
    }
}
