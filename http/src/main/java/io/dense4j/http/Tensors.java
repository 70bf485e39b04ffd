package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.tensor.ElementCodec;
import io.dense4j.tensor.ElementConversionException;
import io.dense4j.tensor.ElementType;

import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * Open Inference Protocol tensors to the float rows a model takes, from JSON numbers or from little-endian binary
 * data; with the validation that turns a bad tensor into a 400 that says what is wrong. The datatypes and their
 * conversions are the Java API's ({@link ElementType}, {@link ElementCodec}): a value reaches the model as the
 * float32 nearest to what the declared datatype holds, integers and booleans are checked against their range.
 */
final class Tensors {
    private Tensors() {
    }

    /** The datatype named {@code name}, or a 400 listing the protocol's datatypes. */
    static ElementType datatype(String name, String input) {
        ElementType dt = ElementType.fromV2Name(name);
        if (dt == null) {
            throw ApiException.badRequest("input '" + input + "' has unknown datatype '" + name
                    + "'; the protocol's datatypes are " + String.join(", ", ElementType.v2Names()));
        }
        return dt;
    }

    /** Rejects datatypes a numeric model cannot take. */
    static void requireNumeric(ElementType dt, String input) {
        if (!dt.isNumeric()) {
            throw ApiException.badRequest("input '" + input + "' has datatype " + dt.v2Name()
                    + ", but the model takes numbers: use FP32 (or FP16, BF16, FP64, INT8..INT64, UINT8..UINT64, BOOL)");
        }
    }

    /**
     * Reads {@code out.length} numbers from JSON {@code data} (flat or nested arrays, row-major) into
     * {@code out}.
     */
    static void fromJson(JsonNode data, ElementType dt, float[] out, String input) {
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

    private static int fill(JsonNode array, ElementType dt, float[] out, int at, String input) {
        for (int i = 0, size = array.size(); i < size; i++) {
            JsonNode e = array.get(i);
            if (e.isArray()) {
                at = fill(e, dt, out, at, input);
                continue;
            }
            float v;
            try {
                if (e.isBoolean() && dt == ElementType.BOOL) {
                    v = ElementCodec.toFloat(dt, e.booleanValue());
                } else if (!e.isNumber()) {
                    throw ApiException.badRequest("'data' of input '" + input + "' must hold only "
                            + (dt == ElementType.BOOL ? "booleans" : "numbers") + "; element " + at + " is " + describe(e));
                } else if (e.isIntegralNumber()) {
                    v = e.canConvertToLong() ? ElementCodec.toFloat(dt, e.longValue())
                            : ElementCodec.toFloat(dt, e.bigIntegerValue());
                } else if (!dt.isFloatingPoint()) {
                    double d = e.doubleValue();
                    throw ApiException.badRequest("input '" + input + "' is " + dt.v2Name() + " but element " + at
                            + (!Double.isFinite(d) ? " is out of range (beyond a 64-bit float)"
                            : d == Math.rint(d) ? " is written as a floating-point number (" + abbreviate(e.toString()) + "): "
                            + dt.v2Name() + " data are integers written without a decimal point or exponent"
                            : " is not an integer: " + abbreviate(e.toString())));
                } else {
                    v = ElementCodec.toFloat(dt, e.doubleValue());
                }
            } catch (ElementConversionException x) {
                throw ApiException.badRequest("input '" + input + "' is " + dt.v2Name() + " but element " + at + " is refused: "
                        + x.problem());
            }
            if (at < out.length) {
                out[at] = v;
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
    static void fromBinary(ByteBuffer buf, ElementType dt, float[] out, String input) {
        try {
            ElementCodec.decode(dt, buf, out, 0, out.length);
        } catch (ElementConversionException x) {
            throw ApiException.badRequest("binary data of input '" + input + "' (" + dt.v2Name() + ") is refused: "
                    + x.problem() + " at element " + x.index());
        }
    }

    /** 400 naming the first NaN or infinite value, by row and column. */
    static void requireFinite(float[] flat, int columns, String input) {
        for (int i = 0; i < flat.length; i++) {
            if (!Float.isFinite(flat[i])) {
                throw ApiException.badRequest("input '" + input + "' holds " + (Float.isNaN(flat[i]) ? "NaN" : "an infinite value")
                        + " at row " + (i / columns) + ", column " + (i % columns)
                        + " (values beyond the range of their datatype or of a 32-bit float count as infinite);"
                        + " NaN and infinity are rejected");
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
