package io.dense4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static io.dense4j.tensor.ElementReference.BF16_OVERFLOW;
import static io.dense4j.tensor.ElementReference.bfloat16Value;
import static io.dense4j.tensor.ElementReference.halfValue;
import static io.dense4j.tensor.ElementReference.nearestFloat;
import static io.dense4j.tensor.ElementReference.roundToBfloat16;
import static io.dense4j.tensor.ElementReference.roundToHalf;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link ElementCodec} against references written here from the formats' definitions, in float64 (or exactly, with
 * BigDecimal), never from the codec's own bit manipulation: every FLOAT16 and BFLOAT16 bit pattern, a million random
 * floats and doubles plus the rounding edges, every integer type at its range limits and on random 64-bit values.
 * Where the JDK has {@code Float.float16ToFloat} / {@code floatToFloat16} (Java 20+), they are a second opinion.
 */
class ElementCodecTest {
    /** Java 20+'s binary16 conversions, found by reflection (this project targets Java 17); null before. */
    private static final MethodHandle JDK_HALF_TO_FLOAT = jdk("float16ToFloat", MethodType.methodType(float.class, short.class));
    private static final MethodHandle JDK_FLOAT_TO_HALF = jdk("floatToFloat16", MethodType.methodType(short.class, float.class));

    private static MethodHandle jdk(String name, MethodType type) {
        try {
            return MethodHandles.publicLookup().findStatic(Float.class, name, type);
        } catch (NoSuchMethodException | IllegalAccessException e) {
            return null;
        }
    }

    private static void secondOpinionNote() {
        if (JDK_HALF_TO_FLOAT == null) {
            System.out.println("ElementCodecTest: no second opinion from the JDK: Java " + Runtime.version().feature()
                    + " lacks Float.float16ToFloat/floatToFloat16 (Java 20+); the float64 references still apply");
        }
    }

    static void assertSameFloat(double expected, float actual, java.util.function.Supplier<String> what) {
        float e = (float) expected; // exact: the references are values of the narrower format
        if ((double) e != expected || Float.floatToRawIntBits(e) != Float.floatToRawIntBits(actual)) {
            assertEquals((double) e, expected, () -> what.get() + ": reference is not a float");
            assertEquals(Float.floatToRawIntBits(e), Float.floatToRawIntBits(actual),
                    () -> what.get() + ": expected " + e + ", got " + actual);
        }
    }

    // ================================================================ FLOAT16

    @Test
    void everyHalfPatternWidensExactlyAndRoundTrips() throws Throwable {
        secondOpinionNote();
        for (int h = 0; h < 0x10000; h++) {
            short bits = (short) h;
            float f = ElementCodec.halfToFloat(bits);
            double expected = halfValue(h);
            String what = String.format("half 0x%04x", h);
            if (Double.isNaN(expected)) {
                // NaN: sign and payload kept in the top fraction bits
                int sign = (h & 0x8000) << 16;
                assertEquals(sign | 0x7f80_0000 | ((h & 0x3ff) << 13), Float.floatToRawIntBits(f), what);
                double d = Double.longBitsToDouble(((long) (h >>> 15) << 63) | 0x7ff0_0000_0000_0000L | ((long) (h & 0x3ff) << 42));
                assertEquals(bits, ElementCodec.doubleToHalf(d), what + " from a float64 NaN");
            } else {
                assertSameFloat(expected, f, () -> what);
                assertEquals(bits, ElementCodec.doubleToHalf(expected), what + " from float64");
            }
            assertEquals(bits, ElementCodec.floatToHalf(f), what + " round trip");
            if (JDK_HALF_TO_FLOAT != null) {
                float jdk = (float) JDK_HALF_TO_FLOAT.invokeExact(bits);
                if (Float.isNaN(f)) {
                    assertTrue(Float.isNaN(jdk), what);
                } else {
                    assertEquals(Float.floatToRawIntBits(jdk), Float.floatToRawIntBits(f), what + " vs the JDK");
                }
            }
        }
    }

    @Test
    void knownHalfValues() { // the checks that SafeTensorsTest and InferenceServerTest made on the old copies
        assertEquals(0f, ElementCodec.halfToFloat((short) 0));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(ElementCodec.halfToFloat((short) 0x8000)));
        assertEquals(1.0f, ElementCodec.halfToFloat((short) 0x3c00));
        assertEquals(-2.0f, ElementCodec.halfToFloat((short) 0xc000));
        assertEquals(65504f, ElementCodec.halfToFloat((short) 0x7bff));
        assertEquals(0x1p-24f, ElementCodec.halfToFloat((short) 1));
        assertEquals(5.9604645e-8f, ElementCodec.halfToFloat((short) 0x0001));
        assertEquals(0x1p-14f, ElementCodec.halfToFloat((short) 0x0400));
        assertEquals(Float.POSITIVE_INFINITY, ElementCodec.halfToFloat((short) 0x7c00));
        assertTrue(Float.isNaN(ElementCodec.halfToFloat((short) 0x7e00)));
        assertEquals((short) 0x3c00, ElementCodec.floatToHalf(1f));
        assertEquals((short) 0x3555, ElementCodec.floatToHalf(1f / 3)); // 0.333251953125
    }

    /** The edges of rounding: midpoints (ties to even), next to midpoints, overflow, the subnormal range, zero. */
    @Test
    void halfRoundingEdges() {
        List<Float> edges = new java.util.ArrayList<>();
        for (int h = 0; h < 0x7c00; h++) { // each pair of adjacent finite halves, both signs
            double lo = halfValue(h);
            double hi = h == 0x7bff ? 65536 : halfValue(h + 1);
            float mid = (float) ((lo + hi) / 2); // exact: 12 significant bits
            for (float f : new float[] {mid, Math.nextDown(mid), Math.nextUp(mid), (float) lo}) {
                edges.add(f);
                edges.add(-f);
            }
        }
        edges.addAll(List.of(65519.998f, 65520f, 65519f, 65536f, Float.MAX_VALUE, 0x1p-25f, 0x1.000002p-25f, 0x1p-26f,
                3 * 0x1p-25f, Float.MIN_VALUE, 0f, -0f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY));
        for (float f : edges) {
            checkHalf(f);
        }
        // the named cases, spelled out
        assertEquals((short) 0x0000, ElementCodec.floatToHalf(0x1p-25f), "half the smallest subnormal ties to zero");
        assertEquals((short) 0x0001, ElementCodec.floatToHalf(0x1.000002p-25f), "just above it rounds up");
        assertEquals((short) 0x0002, ElementCodec.floatToHalf(3 * 0x1p-25f), "1.5 subnormal units tie to 2");
        assertEquals((short) 0x8000, ElementCodec.floatToHalf(-0x1p-26f), "a negative underflow keeps its sign");
        assertEquals((short) 0x7bff, ElementCodec.floatToHalf(65519.99f));
        assertEquals((short) 0x7c00, ElementCodec.floatToHalf(65520f), "the overflow threshold ties to infinity");
        assertEquals((short) 0xfc00, ElementCodec.floatToHalf(-1e10f));
        assertEquals((short) 0x0400, ElementCodec.floatToHalf(Math.nextDown(0x1p-14f)), "rounds up into the normals");
    }

    @Test
    void randomFloatsRoundToNearestHalf() throws Throwable {
        Random r = new Random(20260130);
        for (int i = 0; i < 1_000_000; i++) {
            // half the draws anywhere, half where halves live (exponents -26..16), every fraction pattern
            float f = i % 2 == 0 ? Float.intBitsToFloat(r.nextInt())
                    : Float.intBitsToFloat((r.nextInt() & 0x807f_ffff) | ((127 - 26 + r.nextInt(43)) << 23));
            checkHalf(f);
            if (JDK_FLOAT_TO_HALF != null) {
                short jdk = (short) JDK_FLOAT_TO_HALF.invokeExact(f);
                short ours = ElementCodec.floatToHalf(f);
                if (Float.isNaN(f)) {
                    assertTrue(Float.isNaN(ElementCodec.halfToFloat(jdk)) && Float.isNaN(ElementCodec.halfToFloat(ours)));
                } else {
                    assertEquals(jdk, ours, "float " + f + " vs the JDK");
                }
            }
        }
    }

    private static void checkHalf(float f) {
        short h = ElementCodec.floatToHalf(f);
        if (Float.isNaN(f)) {
            assertTrue(Float.isNaN(ElementCodec.halfToFloat(h)), "NaN stays NaN");
            return;
        }
        assertSameFloat(roundToHalf(f), ElementCodec.halfToFloat(h), () -> "float " + f + " (" + Float.toHexString(f) + ")");
    }

    @Test
    void randomDoublesRoundOnceToHalf() {
        Random r = new Random(7);
        for (int i = 0; i < 300_000; i++) {
            double d = Double.longBitsToDouble((r.nextLong() & 0x800f_ffff_ffff_ffffL) | ((long) (1023 - 28 + r.nextInt(47)) << 52));
            assertSameFloat(roundToHalf(d), ElementCodec.halfToFloat(ElementCodec.doubleToHalf(d)), () -> "double " + d);
        }
        // just above a midpoint, closer than a float can tell: rounding through float32 would tie to even (down)
        double mid = (halfValue(0x3c00) + halfValue(0x3c01)) / 2; // 1 + 2^-11, between 0x3c00 (even) and 0x3c01
        double above = mid + 0x1p-40;
        assertEquals((short) 0x3c00, ElementCodec.floatToHalf((float) above), "through float32: the tie goes to even");
        assertEquals((short) 0x3c01, ElementCodec.doubleToHalf(above), "from float64 directly: up, as it should");
        assertEquals((short) 0x3c00, ElementCodec.doubleToHalf(mid));
    }

    @Test
    void halfNanPayloads() {
        assertEquals((short) 0x7e00, ElementCodec.floatToHalf(Float.NaN));
        assertEquals((short) 0x7d00, ElementCodec.floatToHalf(Float.intBitsToFloat(0x7fa0_0000)), "signaling payload kept");
        assertEquals((short) 0xfc01, ElementCodec.floatToHalf(Float.intBitsToFloat(0xff80_2000)), "sign and low payload kept");
        assertEquals((short) 0x7e00, ElementCodec.floatToHalf(Float.intBitsToFloat(0x7f80_0001)),
                "a payload below the kept bits becomes the quiet NaN, not infinity");
        assertEquals((short) 0xfe00, ElementCodec.doubleToHalf(Double.longBitsToDouble(0xfff0_0000_0000_0001L)));
    }

    // ================================================================ BFLOAT16

    @Test
    void everyBfloat16PatternWidensExactlyAndRoundTrips() {
        for (int b = 0; b < 0x10000; b++) {
            short bits = (short) b;
            float f = ElementCodec.bfloat16ToFloat(bits);
            double expected = bfloat16Value(b);
            String what = String.format("bfloat16 0x%04x", b);
            if (Double.isNaN(expected)) {
                assertEquals(b << 16, Float.floatToRawIntBits(f), what);
            } else {
                assertSameFloat(expected, f, () -> what);
                assertEquals(bits, ElementCodec.doubleToBfloat16(expected), what + " from float64");
            }
            assertEquals(bits, ElementCodec.floatToBfloat16(f), what + " round trip");
        }
    }

    @Test
    void randomFloatsAndDoublesRoundToNearestBfloat16() {
        Random r = new Random(11);
        for (int i = 0; i < 1_000_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            short b = ElementCodec.floatToBfloat16(f);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(ElementCodec.bfloat16ToFloat(b)));
                assertEquals(Float.floatToRawIntBits(f) >>> 31, (b & 0xffff) >>> 15, "sign kept");
                continue;
            }
            assertSameFloat(roundToBfloat16(f), ElementCodec.bfloat16ToFloat(b), () -> "float " + Float.toHexString(f));
        }
        for (int i = 0; i < 300_000; i++) {
            double d = Double.longBitsToDouble((r.nextLong() & 0x800f_ffff_ffff_ffffL)
                    | ((long) (1023 - 140 + r.nextInt(270)) << 52));
            assertSameFloat(roundToBfloat16(d), ElementCodec.bfloat16ToFloat(ElementCodec.doubleToBfloat16(d)), () -> "double " + d);
        }
        assertEquals((short) 0x3f80, ElementCodec.floatToBfloat16(1f));
        assertEquals((short) 0x4049, ElementCodec.floatToBfloat16((float) Math.PI)); // 3.140625
        assertEquals((short) 0x3f80, ElementCodec.floatToBfloat16(Float.intBitsToFloat(0x3f80_8000)), "tie to even (down)");
        assertEquals((short) 0x3f82, ElementCodec.floatToBfloat16(Float.intBitsToFloat(0x3f81_8000)), "tie to even (up)");
        assertEquals((short) 0x7f80, ElementCodec.floatToBfloat16(Float.MAX_VALUE), "overflows to infinity");
        assertEquals((short) 0x0001, ElementCodec.floatToBfloat16(Float.intBitsToFloat(0x0000_8001)), "subnormal");
        assertEquals((short) 0x7fc0, ElementCodec.floatToBfloat16(Float.intBitsToFloat(0x7f80_0001)), "NaN stays NaN");
        assertEquals((short) 0xffa0, ElementCodec.floatToBfloat16(Float.intBitsToFloat(0xffa0_0000)), "payload kept");
    }

    // ================================================================ bulk decode and encode

    private static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void decodesEveryNumericTypeFromLittleEndianBytes() {
        // each type's range limits and awkward values, written here with ByteBuffer's own little-endian puts
        checkDecode(ElementType.BOOL, le(2).put((byte) 0).put((byte) 1), 0, 1);
        checkDecode(ElementType.UINT8, le(3).put((byte) 0).put((byte) 255).put((byte) 128), 0, 255, 128);
        checkDecode(ElementType.INT8, le(3).put((byte) -128).put((byte) 127).put((byte) -1), -128, 127, -1);
        checkDecode(ElementType.UINT16, le(4).putShort((short) 0xffff).putShort((short) 0x8000), 65535, 32768);
        checkDecode(ElementType.INT16, le(4).putShort(Short.MIN_VALUE).putShort(Short.MAX_VALUE), -32768, 32767);
        checkDecode(ElementType.INT32, le(12).putInt(Integer.MIN_VALUE).putInt(Integer.MAX_VALUE).putInt((1 << 24) + 1),
                -2147483648d, 2147483647d, (1 << 24) + 1);
        checkDecode(ElementType.UINT32, le(8).putInt(-1).putInt((1 << 24) + 3), 4294967295d, (1 << 24) + 3);
        checkDecode(ElementType.INT64, le(16).putLong(Long.MIN_VALUE).putLong(Long.MAX_VALUE), -0x1p63, 0x1p63 - 1);
        checkDecode(ElementType.UINT64, le(16).putLong(-1).putLong(Long.MIN_VALUE + 1), 0x1p64 - 1, 0x1p63 + 1);
        checkDecode(ElementType.FLOAT16, le(6).putShort((short) 0x3c00).putShort((short) 0xc000).putShort((short) 0x0001),
                1, -2, 0x1p-24);
        checkDecode(ElementType.BFLOAT16, le(4).putShort((short) 0x3f80).putShort((short) 0x4049), 1, 3.140625);
        checkDecode(ElementType.FLOAT32, le(8).putFloat(0.1f).putFloat(-Float.MIN_VALUE), 0.1f, -Float.MIN_VALUE);
        checkDecode(ElementType.FLOAT64, le(24).putDouble(0.1).putDouble(-3e40).putDouble(1e-50), 0.1, -3e40, 1e-50);
    }

    /** Decodes (from a big-endian buffer too: the codec's order is fixed) and compares with exact rounding of each value. */
    private static void checkDecode(ElementType type, ByteBuffer written, double... values) {
        written.flip();
        ByteBuffer bigEndian = ByteBuffer.allocate(written.remaining() + 3).order(ByteOrder.BIG_ENDIAN);
        bigEndian.put(new byte[] {9, 9, 9}).put(written.duplicate()).position(3);
        float[] out = new float[values.length + 1];
        ElementCodec.decode(type, bigEndian, out, 1, values.length);
        assertEquals(bigEndian.limit(), bigEndian.position(), "advanced past the elements");
        for (int i = 0; i < values.length; i++) {
            double v = values[i];
            float expected = v == Math.rint(v) && !type.isFloatingPoint()
                    ? nearestFloat(new BigDecimal(v).toBigInteger()) : (float) v;
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[i + 1]), type + " element " + i);
        }
        if (type.isFloatingPoint()) {
            return;
        }
        // as int32: exact when the value fits, refused with its index when not
        int[] ints = new int[values.length];
        boolean fits = true;
        for (double v : values) {
            fits &= v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE;
        }
        ByteBuffer again = written.duplicate();
        if (fits) {
            ElementCodec.decode(type, again, ints, 0, values.length);
            for (int i = 0; i < values.length; i++) {
                assertEquals((long) values[i], ints[i], type + " element " + i);
            }
        } else {
            var e = assertThrows(ElementConversionException.class, () -> ElementCodec.decode(type, again, ints, 0, values.length));
            assertTrue(e.problem().endsWith("does not fit int32"), e.getMessage());
            int first = 0;
            while (values[first] >= Integer.MIN_VALUE && values[first] <= Integer.MAX_VALUE) {
                first++;
            }
            assertEquals(first, e.index());
        }
    }

    @Test
    void random64BitIntegersRoundOnce() {
        Random r = new Random(3);
        for (int i = 0; i < 5_000; i++) {
            long v = r.nextLong() >> r.nextInt(64); // every magnitude
            int length = 64 - Long.numberOfLeadingZeros(v); // as unsigned
            if (i % 2 == 0 && length > 26) { // on a float midpoint, or one above it: what double rounding gets wrong
                int k = length - 24; // bits below float32's last place
                v = (v & -(1L << k)) | (1L << (k - 1)) | (r.nextBoolean() ? 1 : 0);
            }
            ByteBuffer b = le(16).putLong(v).putLong(v);
            b.flip();
            float[] out = new float[2];
            ElementCodec.decode(ElementType.INT64, b, out, 0, 1);
            ElementCodec.decode(ElementType.UINT64, b, out, 1, 1);
            BigInteger signed = BigInteger.valueOf(v);
            BigInteger unsigned = new BigInteger(Long.toUnsignedString(v));
            assertEquals(nearestFloat(signed), out[0], "INT64 " + v);
            assertEquals(nearestFloat(unsigned), out[1], "UINT64 " + unsigned);
            assertEquals(nearestFloat(signed), ElementCodec.toFloat(ElementType.INT64, v), "INT64 from JSON " + v);
            assertEquals(nearestFloat(unsigned), ElementCodec.toFloat(ElementType.UINT64, unsigned), "UINT64 from JSON");
            assertEquals(nearestFloat(signed), ElementCodec.toFloat(ElementType.FLOAT32, signed), "FP32 from a JSON integer");
            double asDouble = signed.doubleValue(); // FP64 holds the double nearest the integer
            assertEquals((float) asDouble, ElementCodec.toFloat(ElementType.FLOAT64, v));
            long value = v;
            assertSameFloat(roundToHalf(asDouble), ElementCodec.toFloat(ElementType.FLOAT16, v), () -> "FP16 " + value);
            BigInteger big = unsigned.shiftLeft(r.nextInt(70)).add(BigInteger.valueOf(r.nextInt(3)));
            assertEquals(bf16Exact(big), ElementCodec.toFloat(ElementType.BFLOAT16, big), "BF16 from JSON " + big);
            assertEquals(bf16Exact(signed), ElementCodec.toFloat(ElementType.BFLOAT16, v), "BF16 from JSON " + v);
        }
    }

    /** The bfloat16 nearest to integer v, ties to even, by exact comparison of the two neighbours. */
    private static float bf16Exact(BigInteger v) {
        if (v.signum() == 0) {
            return 0f;
        }
        BigDecimal exact = new BigDecimal(v.abs());
        int e = v.abs().bitLength() - 1; // 2^e <= |v| < 2^(e+1)
        BigDecimal ulp = new BigDecimal(BigInteger.ONE.shiftLeft(Math.max(e - 7, 0)));
        BigDecimal[] qr = exact.divideAndRemainder(ulp);
        BigDecimal lo = qr[0].multiply(ulp);
        int c = qr[1].multiply(BigDecimal.valueOf(2)).compareTo(ulp);
        boolean up = c > 0 || (c == 0 && qr[0].toBigInteger().testBit(0));
        BigDecimal rounded = up ? lo.add(ulp) : lo;
        double d = rounded.compareTo(new BigDecimal(BF16_OVERFLOW)) >= 0 ? Double.POSITIVE_INFINITY : rounded.doubleValue();
        return (float) (v.signum() < 0 ? -d : d);
    }

    @Test
    void decodeRefusals() {
        ByteBuffer bools = le(4).put((byte) 1).put((byte) 0).put((byte) 2).put((byte) 1);
        bools.flip();
        var e = assertThrows(ElementConversionException.class,
                () -> ElementCodec.decode(ElementType.BOOL, bools.duplicate(), new float[4], 0, 4));
        assertEquals("byte 2 is not a boolean (0 or 1)", e.problem());
        assertEquals(2, e.index());
        ByteBuffer kept = bools.duplicate();
        assertThrows(ElementConversionException.class, () -> ElementCodec.decode(ElementType.BOOL, kept, new float[4], 0, 4));
        assertEquals(0, kept.position(), "a refused decode consumes nothing");
        assertThrows(ElementConversionException.class, () -> ElementCodec.decode(ElementType.BOOL, bools.duplicate(), new int[4], 0, 4));

        ByteBuffer u64 = le(16).putLong(5).putLong(-1);
        u64.flip();
        e = assertThrows(ElementConversionException.class, () -> ElementCodec.decode(ElementType.UINT64, u64, new int[2], 0, 2));
        assertEquals("18446744073709551615 does not fit int32", e.problem());
        assertEquals(1, e.index());

        // wrong byte counts, unsupported types
        ByteBuffer seven = le(7);
        var x = assertThrows(IllegalArgumentException.class, () -> ElementCodec.decode(ElementType.FLOAT32, seven, new float[2], 0, 2));
        assertEquals("2 FLOAT32 elements need 8 bytes, 7 remain", x.getMessage());
        assertEquals(0, seven.position(), "nothing consumed");
        x = assertThrows(IllegalArgumentException.class, () -> ElementCodec.decode(ElementType.BYTES, le(8), new float[1], 0, 1));
        assertTrue(x.getMessage().contains("not numbers"), x.getMessage());
        x = assertThrows(IllegalArgumentException.class, () -> ElementCodec.decode(ElementType.FLOAT16, le(8), new int[1], 0, 1));
        assertTrue(x.getMessage().contains("not an integer type"), x.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> ElementCodec.decode(ElementType.FLOAT32, le(8), new float[1], 0, 2));
    }

    @Test
    void encodeIsTheInverseOfDecode() {
        Random r = new Random(5);
        for (ElementType type : ElementType.values()) {
            if (!type.isNumeric()) {
                continue;
            }
            for (int n : new int[] {1, 31, 33, 784, 1000}) {
                float[] values = new float[n];
                for (int i = 0; i < n; i++) {
                    if (type.isFloatingPoint()) {
                        values[i] = (float) (r.nextGaussian() * 100);
                        continue;
                    }
                    // an integral float within the type's range
                    double lo = type.minValue();
                    double hi = type == ElementType.UINT64 ? 0x1p64 : type.maxValue();
                    float f = (float) Math.rint(lo + r.nextDouble() * (hi - lo));
                    boolean beyond = f > hi || (f == hi && (type == ElementType.INT64 || type == ElementType.UINT64));
                    values[i] = (beyond ? (float) lo : f) + 0f; // + 0: no negative zero, which integers lack
                }
                ByteBuffer b = ByteBuffer.allocate(n * type.byteSize() + 5).order(ByteOrder.BIG_ENDIAN);
                b.position(5);
                ElementCodec.encode(type, values, 0, n, b);
                assertEquals(b.capacity(), b.position());
                b.position(5);
                float[] back = new float[n];
                ElementCodec.decode(type, b, back, 0, n);
                for (int i = 0; i < n; i++) {
                    double expected = switch (type) {
                        case FLOAT16 -> roundToHalf(values[i]);
                        case BFLOAT16 -> roundToBfloat16(values[i]);
                        default -> values[i]; // every type holds these floats exactly
                    };
                    int at = i;
                    assertSameFloat(expected, back[i], () -> type + " n=" + n + " element " + at);
                }
            }
        }
        // int32 values to each integer type and back
        int[] ints = {0, 1, 127, 255, 32767, 65535, Integer.MAX_VALUE};
        ByteBuffer b = le(8 * ints.length);
        ElementCodec.encode(ElementType.INT64, ints, 0, ints.length, b);
        b.flip();
        int[] back = new int[ints.length];
        ElementCodec.decode(ElementType.INT64, b, back, 0, ints.length);
        assertArrayEquals(ints, back);
    }

    @Test
    void encodeRefusalsWriteNothing() {
        ByteBuffer b = le(16);
        var e = assertThrows(ElementConversionException.class,
                () -> ElementCodec.encode(ElementType.UINT8, new float[] {1, 2, 256}, 0, 3, b));
        assertEquals("256 is outside [0, 255]", e.problem());
        assertEquals(2, e.index());
        assertEquals(0, b.position());
        e = assertThrows(ElementConversionException.class, () -> ElementCodec.encode(ElementType.INT32, new float[] {1.5f}, 0, 1, b));
        assertEquals("1.5 is not an integer", e.problem());
        e = assertThrows(ElementConversionException.class, () -> ElementCodec.encode(ElementType.INT8, new float[] {Float.NaN}, 0, 1, b));
        assertEquals("NaN is not an integer", e.problem());
        e = assertThrows(ElementConversionException.class, () -> ElementCodec.encode(ElementType.BOOL, new int[] {0, 1, -1}, 0, 3, b));
        assertEquals("-1 is outside [0, 1]", e.problem());
        e = assertThrows(ElementConversionException.class, () -> ElementCodec.encode(ElementType.UINT64, new int[] {-5}, 0, 1, b));
        assertEquals("-5 is outside [0, 18446744073709551615]", e.problem());
        assertEquals(0, b.position());
        assertThrows(IllegalArgumentException.class, () -> ElementCodec.encode(ElementType.FLOAT32, new float[5], 0, 5, b));
        var bytes = assertThrows(IllegalArgumentException.class, () -> ElementCodec.encode(ElementType.BYTES, new float[1], 0, 1, b));
        assertTrue(bytes.getMessage().contains("not numbers"), bytes.getMessage());
        assertEquals(0, b.position());
        // the largest values: UINT64 above 2^63 and INT64's bounds are written exactly
        ElementCodec.encode(ElementType.UINT64, new float[] {0x1p64f / 2 * 1.5f}, 0, 1, b);
        ElementCodec.encode(ElementType.INT64, new float[] {-0x1p63f}, 0, 1, b);
        assertEquals(0xc000_0000_0000_0000L, b.getLong(0));
        assertEquals(Long.MIN_VALUE, b.getLong(8));
        assertThrows(ElementConversionException.class, () -> ElementCodec.encode(ElementType.INT64, new float[] {0x1p63f}, 0, 1, le(8)));
        assertThrows(ElementConversionException.class, () -> ElementCodec.encode(ElementType.UINT64, new float[] {0x1p64f}, 0, 1, le(8)));
    }

    // ================================================================ one value of a declared type (JSON)

    @Test
    void integerValuesAreCheckedAgainstTheirType() {
        for (ElementType t : ElementType.values()) {
            if (!t.isNumeric() || t.isFloatingPoint()) {
                continue;
            }
            BigInteger min = BigInteger.valueOf(t.minValue());
            BigInteger max = t == ElementType.UINT64 ? BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE)
                    : BigInteger.valueOf(t.maxValue());
            assertEquals(nearestFloat(min), ElementCodec.toFloat(t, min), t + " min");
            assertEquals(nearestFloat(max), ElementCodec.toFloat(t, max), t + " max");
            for (BigInteger outside : new BigInteger[] {min.subtract(BigInteger.ONE), max.add(BigInteger.ONE)}) {
                var e = assertThrows(ElementConversionException.class, () -> ElementCodec.toFloat(t, outside), t + " " + outside);
                assertEquals(outside + " is outside [" + min + ", " + max + "]", e.problem());
                if (outside.bitLength() < 64) {
                    assertThrows(ElementConversionException.class, () -> ElementCodec.toFloat(t, outside.longValue()));
                }
                if (new BigDecimal(outside.doubleValue()).toBigInteger().equals(outside)) { // as a JSON 1e19 would be
                    assertThrows(ElementConversionException.class, () -> ElementCodec.toFloat(t, outside.doubleValue()));
                }
            }
            assertEquals(1f, ElementCodec.toFloat(t, 1.0), t + ": an integral double is an integer");
            var e = assertThrows(ElementConversionException.class, () -> ElementCodec.toFloat(t, 0.5));
            assertEquals("0.5 is not an integer", e.problem());
            assertThrows(ElementConversionException.class, () -> ElementCodec.toFloat(t, Double.NaN));
            assertThrows(ElementConversionException.class, () -> ElementCodec.toFloat(t, Double.POSITIVE_INFINITY));
        }
        assertEquals(1f, ElementCodec.toFloat(ElementType.BOOL, true));
        assertEquals(0f, ElementCodec.toFloat(ElementType.BOOL, false));
        assertThrows(ElementConversionException.class, () -> ElementCodec.toFloat(ElementType.INT8, true));
        assertThrows(IllegalArgumentException.class, () -> ElementCodec.toFloat(ElementType.BYTES, 1L));
    }

    @Test
    void floatingValuesRoundToTheirTypeFirst() {
        assertEquals(0.0999755859375f, ElementCodec.toFloat(ElementType.FLOAT16, 0.1), "FP16 holds the half nearest 0.1");
        assertEquals(0.10009765625f, ElementCodec.toFloat(ElementType.BFLOAT16, 0.1));
        assertEquals(0.1f, ElementCodec.toFloat(ElementType.FLOAT32, 0.1));
        assertEquals(0.1f, ElementCodec.toFloat(ElementType.FLOAT64, 0.1));
        assertEquals(Float.POSITIVE_INFINITY, ElementCodec.toFloat(ElementType.FLOAT16, 70000.0), "beyond FP16: infinite");
        assertEquals(Float.POSITIVE_INFINITY, ElementCodec.toFloat(ElementType.FLOAT16, 70000L));
        assertEquals(65504f, ElementCodec.toFloat(ElementType.FLOAT16, 65519L));
        assertEquals(Float.NEGATIVE_INFINITY, ElementCodec.toFloat(ElementType.FLOAT64, -1e300));
        assertEquals(Float.NEGATIVE_INFINITY, ElementCodec.toFloat(ElementType.FLOAT16, BigInteger.ONE.shiftLeft(80).negate()));
        assertTrue(Float.isNaN(ElementCodec.toFloat(ElementType.FLOAT16, Double.NaN)));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(ElementCodec.toFloat(ElementType.FLOAT16, -1e-30)));
    }

    // ================================================================ the catalogue

    @Test
    void catalogueSpellsBothFormats() {
        // as the safetensors format and the Open Inference Protocol (plus Triton's BF16) spell them
        assertEquals(List.of("BOOL", "U8", "U16", "U32", "U64", "I8", "I16", "I32", "I64", "F16", "BF16", "F32", "F64"),
                ElementType.safetensorsNames());
        assertEquals(List.of("BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
                "BF16", "FP32", "FP64", "BYTES"), ElementType.v2Names());
        int[] sizes = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 2, 4, 8, -1};
        for (ElementType t : ElementType.values()) {
            assertEquals(sizes[t.ordinal()], t.byteSize(), t.name());
            assertEquals(t, ElementType.fromV2Name(t.v2Name()));
            if (t.safetensorsName() != null) {
                assertEquals(t, ElementType.fromSafetensorsName(t.safetensorsName()));
            }
        }
        assertNull(ElementType.fromV2Name("fp32"), "names are case-sensitive");
        assertNull(ElementType.fromV2Name("F32"), "a safetensors name is not a V2 name");
        assertNull(ElementType.fromSafetensorsName("FP32"));
        assertNull(ElementType.fromSafetensorsName("F8_E4M3"));
        assertEquals(Tensor.DType.FLOAT32, ElementType.BFLOAT16.tensorType());
        assertEquals(Tensor.DType.INT32, ElementType.BOOL.tensorType());
        assertEquals(24, ElementType.FLOAT64.byteCount(3));
        assertThrows(ArithmeticException.class, () -> ElementType.FLOAT64.byteCount(Long.MAX_VALUE / 4));
        assertThrows(IllegalStateException.class, () -> ElementType.BYTES.byteCount(1));
    }
}
