package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * Tensor datatypes of the Open Inference Protocol and their conversion to the float rows a model
 * takes, from JSON numbers or from little-endian binary data; with the validation that turns a bad
 * tensor into a 400 that says what is wrong.
 */
final class Tensors {
    private Tensors() {
    }

    /** The protocol's datatypes; {@code size} is bytes per element in binary form (-1: variable). */
    enum Datatype {
        BOOL(1), UINT8(1), UINT16(2), UINT32(4), UINT64(8), INT8(1), INT16(2), INT32(4), INT64(8),
        FP16(2), FP32(4), FP64(8), BYTES(-1);

        final int size;

        Datatype(int size) {
            this.size = size;
        }

        boolean isInteger() {
            return this != FP16 && this != FP32 && this != FP64 && this != BOOL && this != BYTES;
        }

        boolean isUnsigned() {
            return name().startsWith("UINT");
        }

        static Datatype parse(String s, String input) {
            try {
                return valueOf(s);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("input '" + input + "' has unknown datatype '" + s
                        + "'; the protocol's datatypes are BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES");
            }
        }
    }

    /** Rejects datatypes a numeric model cannot take. */
    static void requireNumeric(Datatype dt, String input) {
        if (dt == Datatype.BOOL || dt == Datatype.BYTES) {
            throw ApiException.badRequest("input '" + input + "' has datatype " + dt
                    + ", but the model takes numbers: use FP32 (or FP16, FP64, INT8..INT64, UINT8..UINT64)");
        }
    }

    /**
     * Reads {@code out.length} numbers from JSON {@code data} (flat or nested arrays, row-major) into
     * {@code out}.
     */
    static void fromJson(JsonNode data, Datatype dt, float[] out, String input) {
        if (data == null || data.isMissingNode() || data.isNull()) {
            throw ApiException.badRequest("input '" + input + "' has no 'data' (and no binary_data_size parameter)");
        }
        if (!data.isArray()) {
            throw ApiException.badRequest("'data' of input '" + input + "' must be an array of numbers");
        }
        int n = fill(data, dt, out, 0, input);
        if (n != out.length) {
            throw ApiException.badRequest("input '" + input + "' has " + n + " values in 'data' but its shape needs "
                    + out.length);
        }
    }

    /**
     * Counts the values of JSON {@code data} (nested arrays flattened) without allocating anything: what a
     * declared shape is checked against. Non-arrays are left to {@link #fromJson} to report.
     */
    static long countValues(JsonNode data, String input) {
        if (data == null || data.isMissingNode() || data.isNull()) {
            throw ApiException.badRequest("input '" + input + "' has no 'data' (and no binary_data_size parameter)");
        }
        if (!data.isArray()) {
            throw ApiException.badRequest("'data' of input '" + input + "' must be an array of numbers");
        }
        long n = 0;
        for (JsonNode e : data) {
            n += e.isArray() ? countValues(e, input) : 1;
        }
        return n;
    }

    private static int fill(JsonNode array, Datatype dt, float[] out, int at, String input) {
        for (int i = 0, size = array.size(); i < size; i++) {
            JsonNode e = array.get(i);
            if (e.isArray()) {
                at = fill(e, dt, out, at, input);
                continue;
            }
            if (!e.isNumber()) {
                throw ApiException.badRequest("'data' of input '" + input + "' must hold only numbers; element "
                        + at + " is " + describe(e));
            }
            if (dt.isInteger() && !e.isIntegralNumber()) {
                throw ApiException.badRequest("input '" + input + "' is " + dt + " but element " + at
                        + " is not an integer: " + e);
            }
            if (dt.isUnsigned() && e.doubleValue() < 0) {
                throw ApiException.badRequest("input '" + input + "' is " + dt + " but element " + at
                        + " is negative: " + e);
            }
            if (at < out.length) {
                out[at] = (float) e.doubleValue();
            }
            at++;
        }
        return at;
    }

    private static String describe(JsonNode e) {
        if (e.isTextual()) {
            return "the string \"" + abbreviate(e.asText()) + "\"";
        }
        return e.getNodeType().toString().toLowerCase(Locale.ROOT) + (e.isNull() ? "" : " " + abbreviate(e.toString()));
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    /** Reads {@code out.length} little-endian elements of {@code dt} from {@code buf}. */
    static void fromBinary(ByteBuffer buf, Datatype dt, float[] out) {
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (dt) {
                case INT8 -> buf.get();
                case UINT8 -> buf.get() & 0xff;
                case INT16 -> buf.getShort();
                case UINT16 -> buf.getShort() & 0xffff;
                case INT32 -> buf.getInt();
                case UINT32 -> buf.getInt() & 0xffffffffL;
                case INT64 -> buf.getLong();
                case UINT64 -> unsignedToFloat(buf.getLong());
                case FP16 -> halfToFloat(buf.getShort());
                case FP32 -> buf.getFloat();
                case FP64 -> (float) buf.getDouble();
                default -> throw new IllegalStateException(dt + " is not numeric");
            };
        }
    }

    private static float unsignedToFloat(long v) {
        return v >= 0 ? v : (float) ((v >>> 1) * 2.0 + (v & 1));
    }

    /** IEEE 754 half precision to float (Float.float16ToFloat arrives only in Java 20). */
    static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13)); // Inf or NaN
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign); // +-0
            }
            float f = mant / 1024f / 16384f; // subnormal: mant * 2^-24
            return sign != 0 ? -f : f;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** 400 naming the first NaN or infinite value, by row and column. */
    static void requireFinite(float[] flat, int columns, String input) {
        for (int i = 0; i < flat.length; i++) {
            if (!Float.isFinite(flat[i])) {
                throw ApiException.badRequest("input '" + input + "' holds " + (Float.isNaN(flat[i]) ? "NaN" : "an infinite value")
                        + " at row " + (i / columns) + ", column " + (i % columns)
                        + " (values that do not fit a 32-bit float count as infinite); NaN and infinity are rejected");
            }
        }
    }

    /** Splits a flat row-major array into rows of {@code columns}. */
    static float[][] rows(float[] flat, int columns) {
        int n = flat.length / columns;
        float[][] rows = new float[n][];
        for (int r = 0; r < n; r++) {
            rows[r] = new float[columns];
            System.arraycopy(flat, r * columns, rows[r], 0, columns);
        }
        return rows;
    }
}
