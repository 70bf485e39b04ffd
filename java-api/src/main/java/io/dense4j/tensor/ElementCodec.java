package io.dense4j.tensor;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Conversion of the {@link ElementType}s to and from the float32 and int32 values Dense4J computes with: the one
 * place that turns little-endian tensor bytes into numbers and back (safetensors files, the Open Inference
 * Protocol's binary data, federated messages, ONNX initializers), and JSON numbers into a declared type's values.
 *
 * <p>The rules, the same for every caller:
 * <ul>
 *   <li>Floating-point conversions round to nearest, ties to even, as IEEE 754 does: float32 to FLOAT16 or
 *       BFLOAT16 keeps subnormals, gives a signed zero below half the smallest subnormal and infinity at or above
 *       the overflow threshold (65520 for FLOAT16). Widening (FLOAT16, BFLOAT16 to float32) is exact, so every
 *       16-bit pattern round-trips. A NaN keeps its sign and the top bits of its payload (a 16-bit NaN widened and
 *       narrowed again is the same pattern); a NaN whose kept payload would be zero, and so read as infinity,
 *       becomes the quiet NaN.</li>
 *   <li>Integers to float32 round to nearest even once (the 64-bit types too): exact up to 2^24 in magnitude.</li>
 *   <li>Integers to int32 are exact or refused; integer and BOOL values are checked against their type's range;
 *       a BOOL byte is 0 or 1. Refusals are {@link ElementConversionException}s saying what and at which
 *       element.</li>
 * </ul>
 * Bulk methods read and write little-endian bytes whatever the buffer's own byte order, from and to its position,
 * which they advance. A refused decode leaves the source where it was (the destination may hold the elements
 * before the refused one); a refused encode writes nothing.
 */
public final class ElementCodec {
    private static final int HALF_FRACTION_BITS = 10;
    private static final int HALF_EXPONENT_BITS = 5;
    private static final int BF16_FRACTION_BITS = 7;
    private static final int BF16_EXPONENT_BITS = 8;
    private static final BigInteger TWO_TO_64 = BigInteger.ONE.shiftLeft(64);

    private ElementCodec() {
    }

    // ================================================================ FLOAT16 and BFLOAT16

    /** IEEE 754 binary16 bits to float32: exact (every half value is a float value), NaN payloads kept. */
    public static float halfToFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1f;
        int fraction = h & 0x3ff;
        if (exponent == 0x1f) { // infinity, or NaN with the payload in the top fraction bits
            return Float.intBitsToFloat(sign | 0x7f80_0000 | (fraction << 13));
        }
        if (exponent == 0) {
            if (fraction == 0) {
                return Float.intBitsToFloat(sign); // signed zero
            }
            // subnormal, fraction * 2^-24: normalize so that the leading one is the implicit bit
            int shift = Integer.numberOfLeadingZeros(fraction) - 21;
            fraction = (fraction << shift) & 0x3ff;
            exponent = 1 - shift;
        }
        return Float.intBitsToFloat(sign | ((exponent + 127 - 15) << 23) | (fraction << 13));
    }

    /** float32 to the nearest binary16 (ties to even), with the overflow, subnormal and NaN rules above. */
    public static short floatToHalf(float value) {
        return narrowFloat(value, HALF_FRACTION_BITS, HALF_EXPONENT_BITS);
    }

    /** float64 to the nearest binary16, rounded once (not through float32). */
    public static short doubleToHalf(double value) {
        return narrowDouble(value, HALF_FRACTION_BITS, HALF_EXPONENT_BITS);
    }

    /** bfloat16 bits to float32: exact (bfloat16 is a float32's upper half). */
    public static float bfloat16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xffff) << 16);
    }

    /** float32 to the nearest bfloat16 (ties to even), with the overflow, subnormal and NaN rules above. */
    public static short floatToBfloat16(float value) {
        return narrowFloat(value, BF16_FRACTION_BITS, BF16_EXPONENT_BITS);
    }

    /** float64 to the nearest bfloat16, rounded once (not through float32). */
    public static short doubleToBfloat16(double value) {
        return narrowDouble(value, BF16_FRACTION_BITS, BF16_EXPONENT_BITS);
    }

    private static short narrowFloat(float value, int fractionBits, int exponentBits) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 31) << (fractionBits + exponentBits);
        int magnitude = bits & 0x7fff_ffff;
        int infinity = ((1 << exponentBits) - 1) << fractionBits;
        if (magnitude >= 0x7f80_0000) {
            return (short) (sign | (magnitude == 0x7f80_0000 ? infinity
                    : nan(infinity, (magnitude & 0x7f_ffff) >>> (23 - fractionBits), fractionBits)));
        }
        if (magnitude == 0) {
            return (short) sign;
        }
        int exponent = magnitude >>> 23;
        long significand = exponent == 0 ? magnitude : (magnitude & 0x7f_ffff) | 0x80_0000;
        int exp2 = Math.max(exponent, 1) - 127 - 23;
        return (short) (sign | round(significand, exp2, fractionBits, exponentBits));
    }

    private static short narrowDouble(double value, int fractionBits, int exponentBits) {
        long bits = Double.doubleToRawLongBits(value);
        int sign = (int) (bits >>> 63) << (fractionBits + exponentBits);
        long magnitude = bits & Long.MAX_VALUE;
        int infinity = ((1 << exponentBits) - 1) << fractionBits;
        if (magnitude >= 0x7ff0_0000_0000_0000L) {
            return (short) (sign | (magnitude == 0x7ff0_0000_0000_0000L ? infinity
                    : nan(infinity, (int) ((magnitude & 0xf_ffff_ffff_ffffL) >>> (52 - fractionBits)), fractionBits)));
        }
        if (magnitude == 0) {
            return (short) sign;
        }
        int exponent = (int) (magnitude >>> 52);
        long significand = exponent == 0 ? magnitude : (magnitude & 0xf_ffff_ffff_ffffL) | (1L << 52);
        int exp2 = Math.max(exponent, 1) - 1023 - 52;
        return (short) (sign | round(significand, exp2, fractionBits, exponentBits));
    }

    /** NaN bits: the payload's top bits, or the quiet bit alone when they are all zero (else it reads as infinity). */
    private static int nan(int infinity, int payload, int fractionBits) {
        return infinity | (payload != 0 ? payload : 1 << (fractionBits - 1));
    }

    /**
     * The magnitude bits of the binary format (fractionBits, exponentBits; IEEE bias) nearest to significand *
     * 2^exp2, ties to even; significand is a non-zero unsigned 64-bit integer. Overflow gives infinity; below the
     * normal range the quantum stays that of the subnormals.
     */
    private static int round(long significand, int exp2, int fractionBits, int exponentBits) {
        int bias = (1 << (exponentBits - 1)) - 1;
        int infinity = ((1 << exponentBits) - 1) << fractionBits;
        int exponent = 63 - Long.numberOfLeadingZeros(significand) + exp2; // of the leading one
        if (exponent > bias) {
            return infinity;
        }
        int minExponent = 1 - bias;
        int quantumExp = Math.max(exponent, minExponent) - fractionBits; // the target's unit in the last place
        int shift = quantumExp - exp2; // low bits of the significand below that unit
        long q;
        if (shift <= 0) {
            q = significand << -shift; // exact
        } else if (shift > 64) {
            q = 0; // below half the smallest subnormal
        } else {
            q = shift == 64 ? 0 : significand >>> shift;
            long rest = shift == 64 ? significand : significand & ((1L << shift) - 1);
            int vsHalf = Long.compareUnsigned(rest, 1L << (shift - 1));
            if (vsHalf > 0 || (vsHalf == 0 && (q & 1) != 0)) {
                q++;
            }
        }
        if (exponent < minExponent) {
            return (int) q; // subnormal; q == 2^fractionBits carries into the smallest normal
        }
        // q in [2^f, 2^(f+1)]: the implicit one adds to the exponent field, and so does a carry out of rounding,
        // which from the largest finite value lands exactly on infinity
        return ((exponent + bias - 1) << fractionBits) + (int) q;
    }

    // ================================================================ bulk: little-endian bytes

    /**
     * Reads {@code length} elements of {@code type} from {@code src} into {@code dst[offset..]} as float32: floats
     * rounded to nearest even (FLOAT16, BFLOAT16 exact), integers converted (rounded once above 2^24), BOOL as 0/1.
     *
     * @throws ElementConversionException a BOOL byte other than 0 and 1
     * @throws IllegalArgumentException BYTES, or fewer bytes remaining than the elements need
     */
    public static void decode(ElementType type, ByteBuffer src, float[] dst, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, dst.length);
        ByteBuffer b = take(type, src, length);
        switch (type) {
            case FLOAT32 -> b.asFloatBuffer().get(dst, offset, length);
            case FLOAT64 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = (float) b.getDouble(8 * i);
                }
            }
            case FLOAT16 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = halfToFloat(b.getShort(2 * i));
                }
            }
            case BFLOAT16 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = bfloat16ToFloat(b.getShort(2 * i));
                }
            }
            case INT32 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = b.getInt(4 * i);
                }
            }
            case UINT32 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = Integer.toUnsignedLong(b.getInt(4 * i));
                }
            }
            case INT64 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = b.getLong(8 * i);
                }
            }
            case UINT64 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = unsignedToFloat(b.getLong(8 * i));
                }
            }
            default -> { // BOOL and the 8- and 16-bit integers: exact
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = smallInteger(type, b, i);
                }
            }
        }
        consumed(src, b);
    }

    /**
     * Reads {@code length} elements of an integer or BOOL {@code type} from {@code src} into {@code dst[offset..]},
     * exactly.
     *
     * @throws ElementConversionException a value outside int32 (UINT32, INT64, UINT64), a BOOL byte other than 0 and 1
     * @throws IllegalArgumentException a floating-point type or BYTES, or fewer bytes remaining than needed
     */
    public static void decode(ElementType type, ByteBuffer src, int[] dst, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, dst.length);
        if (type.isFloatingPoint()) {
            throw new IllegalArgumentException(type + " is not an integer type: decode it to float32");
        }
        ByteBuffer b = take(type, src, length);
        switch (type) {
            case INT32 -> b.asIntBuffer().get(dst, offset, length);
            case UINT32 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = toInt32(Integer.toUnsignedLong(b.getInt(4 * i)), i);
                }
            }
            case INT64 -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = toInt32(b.getLong(8 * i), i);
                }
            }
            case UINT64 -> {
                for (int i = 0; i < length; i++) {
                    long v = b.getLong(8 * i);
                    if (v < 0) {
                        throw new ElementConversionException(Long.toUnsignedString(v) + " does not fit int32", i);
                    }
                    dst[offset + i] = toInt32(v, i);
                }
            }
            default -> {
                for (int i = 0; i < length; i++) {
                    dst[offset + i] = smallInteger(type, b, i);
                }
            }
        }
        consumed(src, b);
    }

    /**
     * Writes {@code src[offset..offset+length)} to {@code dst} as {@code type}: floating-point types rounded to
     * nearest even (FLOAT64 exact); integer and BOOL types only for integral values within their range.
     *
     * @throws ElementConversionException a value an integer or BOOL type cannot hold exactly; nothing is written
     * @throws IllegalArgumentException BYTES, or less room in {@code dst} than the elements need
     */
    public static void encode(ElementType type, float[] src, int offset, int length, ByteBuffer dst) {
        Objects.checkFromIndexSize(offset, length, src.length);
        if (!type.isNumeric()) {
            throw notNumeric(type);
        }
        if (!type.isFloatingPoint()) {
            for (int i = 0; i < length; i++) { // check everything first: a refusal writes nothing
                integral(type, src[offset + i], i);
            }
        }
        ByteBuffer b = give(type, dst, length);
        switch (type) {
            case FLOAT32 -> b.asFloatBuffer().put(src, offset, length);
            case FLOAT64 -> {
                for (int i = 0; i < length; i++) {
                    b.putDouble(8 * i, src[offset + i]);
                }
            }
            case FLOAT16 -> {
                for (int i = 0; i < length; i++) {
                    b.putShort(2 * i, floatToHalf(src[offset + i]));
                }
            }
            case BFLOAT16 -> {
                for (int i = 0; i < length; i++) {
                    b.putShort(2 * i, floatToBfloat16(src[offset + i]));
                }
            }
            default -> {
                for (int i = 0; i < length; i++) {
                    put(type, b, i, integral(type, src[offset + i], i));
                }
            }
        }
    }

    /**
     * Writes {@code src[offset..offset+length)} to {@code dst} as an integer or BOOL {@code type}.
     *
     * @throws ElementConversionException a value outside the type's range; nothing is written
     * @throws IllegalArgumentException a floating-point type or BYTES, or less room in {@code dst} than needed
     */
    public static void encode(ElementType type, int[] src, int offset, int length, ByteBuffer dst) {
        Objects.checkFromIndexSize(offset, length, src.length);
        if (type.isFloatingPoint()) {
            throw new IllegalArgumentException(type + " is not an integer type: encode float32 values to it");
        }
        if (!type.isNumeric()) {
            throw notNumeric(type);
        }
        for (int i = 0; i < length; i++) {
            checkRange(type, src[offset + i], i);
        }
        ByteBuffer b = give(type, dst, length);
        if (type == ElementType.INT32) {
            b.asIntBuffer().put(src, offset, length);
        } else {
            for (int i = 0; i < length; i++) {
                put(type, b, i, src[offset + i]);
            }
        }
    }

    /** A little-endian view of the next {@code length} elements of {@code src}; {@link #consumed} advances it. */
    private static ByteBuffer take(ElementType type, ByteBuffer src, int length) {
        int bytes = byteCount(type, length);
        if (src.remaining() < bytes) {
            throw new IllegalArgumentException(length + " " + type + " elements need " + bytes + " bytes, "
                    + src.remaining() + " remain");
        }
        return src.slice().limit(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Moves {@code src} past a view that was decoded without refusal. */
    private static void consumed(ByteBuffer src, ByteBuffer view) {
        src.position(src.position() + view.limit());
    }

    /** A little-endian view of the next {@code length} elements' room in {@code dst}, which is advanced past it. */
    private static ByteBuffer give(ElementType type, ByteBuffer dst, int length) {
        int bytes = byteCount(type, length);
        if (dst.remaining() < bytes) {
            throw new IllegalArgumentException(length + " " + type + " elements need " + bytes + " bytes, "
                    + dst.remaining() + " remain");
        }
        ByteBuffer view = dst.slice().limit(bytes).order(ByteOrder.LITTLE_ENDIAN);
        dst.position(dst.position() + bytes);
        return view;
    }

    private static int byteCount(ElementType type, int length) {
        if (!type.isNumeric()) {
            throw notNumeric(type);
        }
        long bytes = (long) length * type.byteSize();
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(length + " " + type + " elements do not fit one buffer");
        }
        return (int) bytes;
    }

    private static IllegalArgumentException notNumeric(ElementType type) {
        return new IllegalArgumentException(type + " elements are not numbers and have no fixed size");
    }

    /** BOOL, UINT8, INT8, UINT16 or INT16 element {@code i}. */
    private static int smallInteger(ElementType type, ByteBuffer b, int i) {
        return switch (type) {
            case BOOL -> {
                int v = b.get(i) & 0xff;
                if (v > 1) {
                    throw new ElementConversionException("byte " + v + " is not a boolean (0 or 1)", i);
                }
                yield v;
            }
            case UINT8 -> b.get(i) & 0xff;
            case INT8 -> b.get(i);
            case UINT16 -> b.getShort(2 * i) & 0xffff;
            case INT16 -> b.getShort(2 * i);
            default -> throw new AssertionError(type);
        };
    }

    private static void put(ElementType type, ByteBuffer b, int i, long v) {
        switch (type.byteSize()) {
            case 1 -> b.put(i, (byte) v);
            case 2 -> b.putShort(2 * i, (short) v);
            case 4 -> b.putInt(4 * i, (int) v);
            case 8 -> b.putLong(8 * i, v);
            default -> throw new AssertionError(type);
        }
    }

    private static int toInt32(long v, long index) {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new ElementConversionException(v + " does not fit int32", index);
        }
        return (int) v;
    }

    /** An unsigned 64-bit integer to the nearest float32, rounded once. */
    private static float unsignedToFloat(long v) {
        if (v >= 0) {
            return v;
        }
        // halve, keeping the dropped bit as a sticky bit far below float32's rounding position, then double
        return 2f * (float) ((v >>> 1) | (v & 1));
    }

    /** {@code v} as a value of the integer or BOOL type (UINT64 above 2^63 as its two's complement long). */
    private static long integral(ElementType type, double v, long index) {
        if (v != Math.rint(v) || Double.isInfinite(v)) { // NaN, infinities and fractions
            throw new ElementConversionException(number(v) + " is not an integer", index);
        }
        boolean inRange = switch (type) {
            case INT64 -> v >= -0x1p63 && v < 0x1p63;
            case UINT64 -> v >= 0 && v < 0x1p64;
            default -> v >= type.minValue() && v <= type.maxValue();
        };
        if (!inRange) {
            throw new ElementConversionException(number(v) + " is outside " + range(type), index);
        }
        return v >= 0x1p63 ? (long) (v - 0x1p63) + Long.MIN_VALUE : (long) v;
    }

    /** Checks a signed {@code v} against an integer or BOOL type's range. */
    private static void checkRange(ElementType type, long v, long index) {
        boolean inRange = type == ElementType.UINT64 ? v >= 0 : v >= type.minValue() && v <= type.maxValue();
        if (!inRange) {
            throw new ElementConversionException(v + " is outside " + range(type), index);
        }
    }

    private static String range(ElementType type) {
        return "[" + type.minValue() + ", "
                + (type == ElementType.UINT64 ? Long.toUnsignedString(type.maxValue()) : type.maxValue()) + "]";
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 0x1p63 ? Long.toString((long) v) : Double.toString(v);
    }

    // ================================================================ one value of a declared type (JSON)

    /**
     * A number read as a double (a JSON number with a fraction or an exponent), declared of {@code type}, as the
     * float32 the model computes with: rounded to the type first (FLOAT16, BFLOAT16, FLOAT64: the tensor holds
     * that value), then to float32. Out of a floating-point type's range it becomes infinite, as in IEEE 754.
     *
     * @throws ElementConversionException an integer or BOOL type and a value that is not an integer in its range
     */
    public static float toFloat(ElementType type, double value) {
        return switch (type) {
            case FLOAT32, FLOAT64 -> (float) value;
            case FLOAT16 -> halfToFloat(doubleToHalf(value));
            case BFLOAT16 -> bfloat16ToFloat(doubleToBfloat16(value));
            case BYTES -> throw notNumeric(type);
            default -> {
                long v = integral(type, value, -1);
                yield type == ElementType.UINT64 ? unsignedToFloat(v) : (float) v;
            }
        };
    }

    /**
     * An integer (a JSON integer that fits a long) declared of {@code type}, as float32: checked against an integer
     * or BOOL type's range, rounded to a floating-point type first.
     *
     * @throws ElementConversionException outside the range of an integer or BOOL type
     */
    public static float toFloat(ElementType type, long value) {
        return switch (type) {
            case FLOAT32 -> (float) value;
            case FLOAT64 -> (float) (double) value;
            case FLOAT16, BFLOAT16 -> {
                if (value == 0) {
                    yield 0f;
                }
                boolean half = type == ElementType.FLOAT16;
                int bits = round(Math.abs(value), 0, half ? HALF_FRACTION_BITS : BF16_FRACTION_BITS,
                        half ? HALF_EXPONENT_BITS : BF16_EXPONENT_BITS) | (value < 0 ? 0x8000 : 0);
                yield half ? halfToFloat((short) bits) : bfloat16ToFloat((short) bits);
            }
            case BYTES -> throw notNumeric(type);
            default -> {
                checkRange(type, value, -1);
                yield (float) value;
            }
        };
    }

    /**
     * An integer of any size (a JSON integer beyond a long) declared of {@code type}, as float32.
     *
     * @throws ElementConversionException outside the range of an integer or BOOL type
     */
    public static float toFloat(ElementType type, BigInteger value) {
        if (value.bitLength() < 64) {
            return toFloat(type, value.longValue());
        }
        return switch (type) { // |value| >= 2^63
            case FLOAT32 -> value.floatValue(); // rounded once
            case FLOAT64 -> (float) value.doubleValue();
            case FLOAT16 -> value.signum() < 0 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY;
            case BFLOAT16 -> {
                // the top 63 bits and a sticky bit for the rest round as the whole number would
                BigInteger abs = value.abs();
                int drop = abs.bitLength() - 63;
                long top = abs.shiftRight(drop).longValue() | (abs.getLowestSetBit() < drop ? 1 : 0);
                int bits = round(top, drop, BF16_FRACTION_BITS, BF16_EXPONENT_BITS) | (value.signum() < 0 ? 0x8000 : 0);
                yield bfloat16ToFloat((short) bits);
            }
            case UINT64 -> {
                if (value.signum() > 0 && value.compareTo(TWO_TO_64) < 0) {
                    yield unsignedToFloat(value.longValue());
                }
                throw new ElementConversionException(value + " is outside " + range(type));
            }
            case BYTES -> throw notNumeric(type);
            default -> throw new ElementConversionException(value + " is outside " + range(type));
        };
    }

    /**
     * A JSON boolean, which only a BOOL tensor holds: 1 or 0.
     *
     * @throws ElementConversionException any other type
     */
    public static float toFloat(ElementType type, boolean value) {
        if (type != ElementType.BOOL) {
            throw new ElementConversionException(value + " is a boolean, not a number");
        }
        return value ? 1f : 0f;
    }
}
