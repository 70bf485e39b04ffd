package io.dense4j.http;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.tensor.ElementCodec;
import io.dense4j.tensor.ElementType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * Open Inference Protocol (KServe V2) inference requests and responses, JSON and with the binary
 * tensor data extension. Dense4J models have one input named {@value #INPUT} of shape
 * {@code [-1, inputSize]} and one output named {@value #OUTPUT} of shape {@code [-1, outputSize]},
 * both FP32. Inputs of every other numeric datatype are accepted and converted ({@link Tensors}).
 */
final class V2Codec {
    static final String INPUT = "input";
    static final String OUTPUT = "output";
    static final String HEADER_LENGTH = "Inference-Header-Content-Length";

    private V2Codec() {
    }

    /**
     * A decoded inference request.
     *
     * @param id           the request's id, echoed in the response (null if none)
     * @param rows         input rows
     * @param binaryOutput whether the output goes back as binary data
     * @param classes      the classification extension's count: the output goes back as the top {@code classes}
     *                     classes of each row, "value:index[:label]" strings (0: the raw output)
     */
    record Request(String id, float[][] rows, boolean binaryOutput, int classes) {
    }

    /** What the response carries: the binary flag and the classification count of the requested output. */
    private record OutputRequest(boolean binary, int classes) {
    }

    /** An encoded response: body, and for binary responses the JSON part's length (else -1). */
    record Encoded(byte[] body, int jsonLength) {
        boolean binary() {
            return jsonLength >= 0;
        }
    }

    /**
     * Decodes a request body.
     *
     * @param headerLength value of {@value #HEADER_LENGTH}, null for a plain JSON request
     * @param inputSize    number of features the model takes
     * @param maxRows      most rows a request may carry
     */
    static Request decode(byte[] body, String headerLength, int inputSize, int maxRows, boolean rejectNonFinite) {
        int jsonLen = body.length;
        if (headerLength != null) {
            try {
                jsonLen = Integer.parseInt(headerLength.trim());
            } catch (NumberFormatException e) {
                jsonLen = -1;
            }
            if (jsonLen < 0 || jsonLen > body.length) {
                throw ApiException.badRequest(HEADER_LENGTH + " must be a byte count between 0 and the body size ("
                        + body.length + "), got '" + headerLength + "'");
            }
            if (jsonLen == 0) {
                throw ApiException.badRequest(HEADER_LENGTH + " is 0: the request's JSON part (its 'inputs') is empty; "
                        + "the header gives the length of the JSON that comes before the binary tensor data");
            }
        }
        JsonNode root = Json.parse(body, 0, jsonLen);
        if (!root.isObject()) {
            throw ApiException.badRequest("the request must be a JSON object with 'inputs'");
        }
        String id = null;
        JsonNode idNode = root.get("id");
        if (idNode != null && !idNode.isNull()) {
            if (!idNode.isTextual()) {
                throw ApiException.badRequest("'id' must be a string");
            }
            id = idNode.asText();
        }
        JsonNode inputs = root.get("inputs");
        if (inputs == null || !inputs.isArray() || inputs.isEmpty()) {
            throw ApiException.badRequest("the request needs 'inputs': a non-empty array of tensors");
        }
        if (inputs.size() != 1) {
            throw ApiException.badRequest("the model takes 1 input ('" + INPUT + "'), the request has " + inputs.size());
        }
        ByteBuffer binary = ByteBuffer.wrap(body, jsonLen, body.length - jsonLen).slice();
        float[] flat = decodeInput(inputs.get(0), inputSize, maxRows, binary, headerLength != null);
        if (binary.hasRemaining()) {
            throw ApiException.badRequest("the body has " + binary.remaining()
                    + " bytes of binary data after the tensors its inputs declare");
        }
        if (rejectNonFinite) {
            Tensors.requireFinite(flat, inputSize, INPUT);
        }
        OutputRequest output = outputRequest(root);
        return new Request(id, Tensors.rows(flat, inputSize), output.binary(), output.classes());
    }

    /**
     * Every size the request declares is checked against the bytes or values actually present, and the rows
     * against {@code maxRows}, before the input is allocated: a small request cannot make the server
     * allocate for a large shape.
     */
    private static float[] decodeInput(JsonNode in, int inputSize, int maxRows, ByteBuffer binary, boolean binaryAllowed) {
        if (!in.isObject()) {
            throw ApiException.badRequest("each input must be an object with name, shape, datatype and data");
        }
        String name = text(in, "name", "input");
        if (!INPUT.equals(name)) {
            throw ApiException.badRequest("unknown input '" + name + "': the model's input is '" + INPUT + "'");
        }
        ElementType dt = Tensors.datatype(text(in, "datatype", "input '" + name + "'"), name);
        Tensors.requireNumeric(dt, name);
        int rows = rowsOf(in.get("shape"), inputSize, name);
        if (rows > maxRows) {
            throw ApiException.badRequest("input '" + name + "' has " + rows + " rows; this server takes at most " + maxRows
                    + " rows per request (split the batch)");
        }
        long elements = (long) rows * inputSize;
        JsonNode size = in.path("parameters").get("binary_data_size");
        if (size != null) {
            if (!binaryAllowed) {
                throw ApiException.badRequest("input '" + name + "' has binary_data_size but the request has no "
                        + HEADER_LENGTH + " header");
            }
            if (in.has("data")) {
                throw ApiException.badRequest("input '" + name + "' has both 'data' and binary_data_size");
            }
            long expected = dt.byteCount(elements);
            if (!size.isIntegralNumber() || !size.canConvertToLong()) {
                throw ApiException.badRequest("binary_data_size of input '" + name + "' must be a whole number of bytes"
                        + " (" + expected + " for shape [" + rows + ", " + inputSize + "] of " + dt.v2Name() + "), got "
                        + size + (size.isTextual() ? " (a string)" : ""));
            }
            if (size.asLong() != expected) {
                throw ApiException.badRequest("input '" + name + "' declares binary_data_size " + size + " but shape "
                        + "[" + rows + ", " + inputSize + "] of " + dt.v2Name() + " needs " + expected + " bytes");
            }
            if (binary.remaining() < expected) {
                throw ApiException.badRequest("input '" + name + "' needs " + expected + " bytes of binary data, the body has "
                        + binary.remaining());
            }
            float[] flat = new float[(int) elements];
            Tensors.fromBinary(binary, dt, flat, name);
            return flat;
        }
        JsonNode data = in.get("data");
        long present = Tensors.countValues(data, name);
        if (present != elements) {
            throw ApiException.badRequest("input '" + name + "' has " + present + " values in 'data' but its shape ["
                    + rows + ", " + inputSize + "] needs " + elements);
        }
        float[] flat = new float[(int) elements];
        Tensors.fromJson(data, dt, flat, name);
        return flat;
    }

    /** Validates {@code [rows, inputSize]} and returns rows. */
    static int rowsOf(JsonNode shape, int inputSize, String name) {
        if (shape == null || !shape.isArray()) {
            throw ApiException.badRequest("input '" + name + "' needs 'shape', an array like [rows, " + inputSize + "]");
        }
        for (JsonNode d : shape) {
            // (canConvertToLong: a BigInteger's asLong is its low 64 bits, so 2^64 + 1 would pass as 1)
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw ApiException.badRequest("shape of input '" + name + "' must hold non-negative integers, got " + shape);
            }
        }
        if (shape.size() != 2 || shape.get(1).asLong() != inputSize || shape.get(0).asLong() < 1
                || shape.get(0).asLong() > Integer.MAX_VALUE / Math.max(1, inputSize)) {
            throw ApiException.badRequest("input '" + name + "' has shape " + shape + " but the model takes [-1, "
                    + inputSize + "] (rows, " + inputSize + " features), with at least one row");
        }
        return shape.get(0).asInt();
    }

    private static OutputRequest outputRequest(JsonNode root) {
        JsonNode all = root.path("parameters").get("binary_data_output");
        if (all != null && !all.isBoolean()) {
            throw ApiException.badRequest("parameter binary_data_output must be true or false, got " + all);
        }
        boolean binary = all != null && all.asBoolean();
        int classes = 0;
        JsonNode outputs = root.get("outputs");
        if (outputs == null || outputs.isNull()) {
            return new OutputRequest(binary, classes);
        }
        if (!outputs.isArray()) {
            throw ApiException.badRequest("'outputs' must be an array of {\"name\": ...} objects");
        }
        for (JsonNode o : outputs) {
            String name = o.isObject() ? text(o, "name", "requested output") : null;
            if (!OUTPUT.equals(name)) {
                throw ApiException.badRequest("unknown output '" + name + "': the model's output is '" + OUTPUT + "'");
            }
            JsonNode b = o.path("parameters").get("binary_data");
            if (b != null) {
                if (!b.isBoolean()) {
                    throw ApiException.badRequest("parameter binary_data of output '" + name + "' must be true or false");
                }
                binary = b.asBoolean();
            }
            JsonNode c = o.path("parameters").get("classification");
            if (c != null) {
                if (!c.isIntegralNumber() || !c.canConvertToInt() || c.asInt() < 1) {
                    throw ApiException.badRequest("parameter classification of output '" + name + "' must be the number "
                            + "of top classes to return (1 or more), got " + c);
                }
                classes = c.asInt();
            }
        }
        return new OutputRequest(binary, classes);
    }

    /**
     * Triton's classification extension: the {@code k} highest values of each row, highest first (ties: the lower
     * index first), as "value:index" or, when the model names its classes, "value:index:label"; the value printed
     * with six decimals, as Triton prints it.
     */
    static String[][] topClasses(float[][] out, int k, java.util.List<String> labels) {
        String[][] top = new String[out.length][k];
        for (int r = 0; r < out.length; r++) {
            float[] row = out[r];
            Integer[] order = new Integer[row.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> {
                int byValue = Float.compare(row[b], row[a]);
                return byValue != 0 ? byValue : Integer.compare(a, b);
            });
            for (int j = 0; j < k; j++) {
                int i = order[j];
                top[r][j] = String.format(java.util.Locale.ROOT, "%f:%d", row[i], i)
                        + (labels.size() == row.length ? ":" + labels.get(i) : "");
            }
        }
        return top;
    }

    private static String text(JsonNode obj, String field, String what) {
        JsonNode n = obj.get(field);
        if (n == null || !n.isTextual()) {
            throw ApiException.badRequest(what + " needs '" + field + "' (a string)");
        }
        return n.asText();
    }

    /**
     * Encodes a classification response: a BYTES output of shape [rows, k] (binary: each string as its 4-byte
     * little-endian length and its UTF-8 bytes, as the binary tensor extension writes BYTES).
     */
    static Encoded encodeClasses(String model, int version, String id, String[][] top, boolean binary) {
        int rows = top.length;
        int k = rows == 0 ? 0 : top[0].length;
        long bytes = 0;
        for (String[] row : top) {
            for (String v : row) {
                bytes += 4 + v.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            }
        }
        if (bytes * 2 > Integer.MAX_VALUE - (1 << 20)) {
            throw ApiException.badRequest("the response would be " + bytes + " bytes, more than one response can carry; "
                    + "send fewer rows");
        }
        ByteArrayOutputStream bos = new ByteArrayOutputStream((int) Math.min(1 << 24, 256 + 2 * bytes));
        writeJson(bos, model, version, id, ElementType.BYTES, rows, k, binary ? bytes : -1, g -> {
            for (String[] row : top) {
                for (String v : row) {
                    g.writeString(v);
                }
            }
        });
        if (!binary) {
            return new Encoded(bos.toByteArray(), -1);
        }
        int jsonLength = bos.size();
        for (String[] row : top) {
            for (String v : row) {
                byte[] b = v.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                bos.write(b.length & 0xff);
                bos.write((b.length >>> 8) & 0xff);
                bos.write((b.length >>> 16) & 0xff);
                bos.write((b.length >>> 24) & 0xff);
                bos.writeBytes(b);
            }
        }
        return new Encoded(bos.toByteArray(), jsonLength);
    }

    /** Encodes a response, binary when the request asked for it. */
    static Encoded encode(String model, int version, String id, float[][] out, boolean binary) {
        int rows = out.length;
        int cols = rows == 0 ? 0 : out[0].length;
        // (longs: rows * cols * 14 passes 2^31 at ~150 M outputs; a response is one byte array, at most ~2 GB)
        long values = (long) rows * cols;
        if (values * (binary ? 4 : 16) > Integer.MAX_VALUE - (1 << 20)) {
            throw ApiException.badRequest("the response would hold " + values + " values, more than one response "
                    + "can carry; send fewer rows");
        }
        ByteArrayOutputStream bos = new ByteArrayOutputStream((int) Math.min(1 << 24, 64 + values * (binary ? 4 : 14)));
        writeJson(bos, model, version, id, ElementType.FLOAT32, rows, cols, binary ? 4 * values : -1, g -> {
            for (float[] row : out) {
                for (float v : row) {
                    g.writeNumber(v);
                }
            }
        });
        if (!binary) {
            return new Encoded(bos.toByteArray(), -1);
        }
        int jsonLength = bos.size();
        ByteBuffer data = ByteBuffer.allocate((int) (4 * values));
        for (float[] row : out) {
            ElementCodec.encode(ElementType.FLOAT32, row, 0, row.length, data);
        }
        bos.writeBytes(data.array());
        return new Encoded(bos.toByteArray(), jsonLength);
    }

    /** Writes the elements of the {@code data} array. */
    private interface DataWriter {
        void write(JsonGenerator g) throws IOException;
    }

    /**
     * The response's JSON: the one output's name, datatype and shape [rows, cols], then its {@code data} or, for a
     * binary response ({@code binarySize >= 0}), the size of the binary data that follows the JSON.
     */
    private static void writeJson(ByteArrayOutputStream bos, String model, int version, String id, ElementType type,
                                  int rows, int cols, long binarySize, DataWriter data) {
        try (JsonGenerator g = Json.MAPPER.getFactory().createGenerator(bos)) {
            g.writeStartObject();
            g.writeStringField("model_name", model);
            g.writeStringField("model_version", Integer.toString(version));
            if (id != null) {
                g.writeStringField("id", id);
            }
            g.writeArrayFieldStart("outputs");
            g.writeStartObject();
            g.writeStringField("name", OUTPUT);
            g.writeStringField("datatype", type.v2Name());
            g.writeArrayFieldStart("shape");
            g.writeNumber(rows);
            g.writeNumber(cols);
            g.writeEndArray();
            if (binarySize >= 0) {
                g.writeObjectFieldStart("parameters");
                g.writeNumberField("binary_data_size", binarySize);
                g.writeEndObject();
            } else {
                g.writeArrayFieldStart("data");
                data.write(g);
                g.writeEndArray();
            }
            g.writeEndObject();
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
