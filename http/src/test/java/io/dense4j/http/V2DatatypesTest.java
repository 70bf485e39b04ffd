package io.dense4j.http;

import static io.dense4j.http.ServerFixture.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Open Inference Protocol datatype as a model input, from JSON and from binary data: the same values must
 * reach the model whichever way they come, as the float32 nearest to what the declared datatype holds; values
 * outside a datatype, wrong byte counts and unsupported datatypes get a 400 that says what is wrong. The expected
 * floats are written out here, not computed by the codec under test.
 */
class V2DatatypesTest {
    private static final int COLS = 4;

    /** One datatype's case: JSON data, the same values as little-endian bytes, and the floats the model must see. */
    private record Case(String datatype, String json, Consumer<ByteBuffer> binary, int bytes, float... expected) {
    }

    private static final Case[] CASES = {
        new Case("BOOL", "[true, false, 1, 0]", b -> b.put((byte) 1).put((byte) 0).put((byte) 1).put((byte) 0), 4, 1, 0, 1, 0),
        new Case("UINT8", "[0, 255, 128, 7]", b -> b.put((byte) 0).put((byte) 255).put((byte) 128).put((byte) 7), 4,
                0, 255, 128, 7),
        new Case("INT8", "[-128, 127, -1, 0]", b -> b.put((byte) -128).put((byte) 127).put((byte) -1).put((byte) 0), 4,
                -128, 127, -1, 0),
        new Case("UINT16", "[0, 65535, 1, 2]", b -> b.putShort((short) 0).putShort((short) -1).putShort((short) 1)
                .putShort((short) 2), 8, 0, 65535, 1, 2),
        new Case("INT16", "[-32768, 32767, -5, 5]", b -> b.putShort((short) -32768).putShort((short) 32767)
                .putShort((short) -5).putShort((short) 5), 8, -32768, 32767, -5, 5),
        // 2^24 + 1 is the first integer a float cannot hold: it rounds to even, 2^24
        new Case("INT32", "[-2147483648, 2147483647, 16777217, -3]", b -> b.putInt(Integer.MIN_VALUE)
                .putInt(Integer.MAX_VALUE).putInt(16777217).putInt(-3), 16, -0x1p31f, 0x1p31f, 16777216f, -3),
        new Case("UINT32", "[4294967295, 0, 16777219, 1]", b -> b.putInt(-1).putInt(0).putInt(16777219).putInt(1), 16,
                0x1p32f, 0, 16777220f, 1),
        new Case("INT64", "[-9223372036854775808, 9223372036854775807, 9007199254740993, 1]",
                b -> b.putLong(Long.MIN_VALUE).putLong(Long.MAX_VALUE).putLong(9007199254740993L).putLong(1), 32,
                -0x1p63f, 0x1p63f, 0x1p53f, 1),
        // 2^63 + 2^39 + 1 sits just above a float midpoint: rounded once it goes up; through a double it would tie down
        new Case("UINT64", "[18446744073709551615, 0, 9223372586610589697, 1]",
                b -> b.putLong(-1).putLong(0).putLong(0x8000_0080_0000_0001L).putLong(1), 32,
                0x1p64f, 0, 0x1.000002p63f, 1),
        // FP16 holds the half nearest 0.1: 0.0999755859375 (0x2e66)
        new Case("FP16", "[1.0, -2, 0.1, 65504]", b -> b.putShort((short) 0x3c00).putShort((short) 0xc000)
                .putShort((short) 0x2e66).putShort((short) 0x7bff), 8, 1, -2, 0.0999755859375f, 65504),
        new Case("BF16", "[1.0, 3.14159, -0.1, 256]", b -> b.putShort((short) 0x3f80).putShort((short) 0x4049)
                .putShort((short) 0xbdcd).putShort((short) 0x4380), 8, 1, 3.140625f, -0.10009765625f, 256),
        new Case("FP32", "[0.1, -1.4E-45, 3.4028235E38, 5]", b -> b.putFloat(0.1f).putFloat(-Float.MIN_VALUE)
                .putFloat(Float.MAX_VALUE).putFloat(5), 16, 0.1f, -Float.MIN_VALUE, Float.MAX_VALUE, 5),
        new Case("FP64", "[0.1, 1e-300, -2.5, 1e30]", b -> b.putDouble(0.1).putDouble(1e-300).putDouble(-2.5)
                .putDouble(1e30), 32, (float) 0.1, 0, -2.5f, (float) 1e30),
    };

    private static String jsonRequest(String datatype, String shape, String data) {
        return "{\"inputs\":[{\"name\":\"input\",\"shape\":" + shape + ",\"datatype\":\"" + datatype + "\",\"data\":" + data + "}]}";
    }

    private static V2Codec.Request decodeJson(String body, boolean rejectNonFinite) {
        return V2Codec.decode(body.getBytes(StandardCharsets.UTF_8), null, COLS, 1000, rejectNonFinite);
    }

    /** A binary-extension body: the JSON header declaring {@code declaredBytes}, then {@code data}. */
    private static byte[] binaryBody(String datatype, long declaredBytes, byte[] data) {
        byte[] header = ("{\"inputs\":[{\"name\":\"input\",\"shape\":[1," + COLS + "],\"datatype\":\"" + datatype
                + "\",\"parameters\":{\"binary_data_size\":" + declaredBytes + "}}]}").getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(header.length + data.length).put(header).put(data).array();
    }

    private static int headerLength(byte[] body) {
        return new String(body, StandardCharsets.ISO_8859_1).indexOf("}}]}") + 4;
    }

    private static V2Codec.Request decodeBinary(byte[] body, boolean rejectNonFinite) {
        return V2Codec.decode(body, Integer.toString(headerLength(body)), COLS, 1000, rejectNonFinite);
    }

    private static byte[] bytes(Case c) {
        ByteBuffer b = ByteBuffer.allocate(c.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        c.binary().accept(b);
        assertEquals(c.bytes(), b.position(), c.datatype() + ": test data size");
        return b.array();
    }

    private static void assertRow(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                    what + " element " + i + ": expected " + expected[i] + ", got " + actual[i]);
        }
    }

    @Test
    void everyNumericDatatypeDecodesTheSameFromJsonAndBinary() {
        for (Case c : CASES) {
            V2Codec.Request fromJson = decodeJson(jsonRequest(c.datatype(), "[1," + COLS + "]", c.json()), true);
            assertRow(c.expected(), fromJson.rows()[0], c.datatype() + " from JSON");
            V2Codec.Request fromBinary = decodeBinary(binaryBody(c.datatype(), c.bytes(), bytes(c)), true);
            assertRow(c.expected(), fromBinary.rows()[0], c.datatype() + " from binary");
        }
    }

    private static String refused(Runnable r) {
        ApiException e = assertThrows(ApiException.class, r::run);
        assertEquals(400, e.status(), e.getMessage());
        return e.getMessage();
    }

    private static String refusedJson(String datatype, String data) {
        return refused(() -> decodeJson(jsonRequest(datatype, "[1,4]", data), true));
    }

    @Test
    void jsonValuesOutsideTheirDatatypeAreRefused() {
        String[][] outside = {
            {"BOOL", "2", "[0, 1]"}, {"BOOL", "-1", "[0, 1]"},
            {"UINT8", "256", "[0, 255]"}, {"UINT8", "-1", "[0, 255]"},
            {"INT8", "128", "[-128, 127]"}, {"INT8", "-129", "[-128, 127]"},
            {"UINT16", "65536", "[0, 65535]"}, {"INT16", "-32769", "[-32768, 32767]"},
            {"UINT32", "4294967296", "[0, 4294967295]"}, {"INT32", "2147483648", "[-2147483648, 2147483647]"},
            {"INT64", "9223372036854775808", "[-9223372036854775808, 9223372036854775807]"},
            {"INT64", "-9223372036854775809", "[-9223372036854775808, 9223372036854775807]"},
            {"UINT64", "18446744073709551616", "[0, 18446744073709551615]"}, {"UINT64", "-1", "[0, 18446744073709551615]"},
        };
        for (String[] o : outside) {
            String msg = refusedJson(o[0], "[1, 0, " + o[1] + ", 1]");
            assertEquals("input 'input' is " + o[0] + " but element 2 is refused: " + o[1] + " is outside " + o[2], msg);
        }
        assertEquals("input 'input' is INT32 but element 1 is not an integer: 1.5", refusedJson("INT32", "[1, 1.5, 2, 3]"));
        assertEquals("input 'input' is UINT8 but element 3 is written as a floating-point number (100.0): UINT8 data are "
                + "integers written without a decimal point or exponent", refusedJson("UINT8", "[1, 2, 3, 1e2]"));
        assertEquals("input 'input' is INT64 but element 0 is out of range (beyond a 64-bit float)",
                refusedJson("INT64", "[1e100000, 1, 2, 3]"));
        assertTrue(refusedJson("FP32", "[1, true, 2, 3]").contains("must hold only numbers; element 1 is boolean true"));
        assertTrue(refusedJson("BOOL", "[true, \"yes\", 0, 1]").contains("must hold only booleans; element 1 is the string"));
        // beyond FP16, like beyond float32, a value is infinite: refused by default, passed on when allowed
        assertTrue(refusedJson("FP16", "[1, 2, 70000, 3]").contains("infinite value at row 0, column 2"));
        float[] allowed = decodeJson(jsonRequest("FP16", "[1,4]", "[1, 2, 70000, 65519]"), false).rows()[0];
        assertRow(new float[] {1, 2, Float.POSITIVE_INFINITY, 65504}, allowed, "FP16 with non-finite values allowed");
        assertTrue(refusedJson("FP64", "[1, 2, 1e300, 3]").contains("infinite"));
    }

    @Test
    void binaryDataIsCheckedAgainstItsDatatype() {
        byte[] bools = {1, 0, 2, 1};
        assertEquals("binary data of input 'input' (BOOL) is refused: byte 2 is not a boolean (0 or 1) at element 2",
                refused(() -> decodeBinary(binaryBody("BOOL", 4, bools), true)));
        // declared sizes that do not match the shape, the body, or leave bytes over
        String msg = refused(() -> decodeBinary(binaryBody("FP16", 16, new byte[16]), true));
        assertTrue(msg.contains("declares binary_data_size 16 but shape [1, 4] of FP16 needs 8 bytes"), msg);
        msg = refused(() -> decodeBinary(binaryBody("FP64", 32, new byte[31]), true));
        assertTrue(msg.contains("needs 32 bytes of binary data, the body has 31"), msg);
        msg = refused(() -> decodeBinary(binaryBody("BF16", 8, new byte[9]), true));
        assertTrue(msg.contains("1 bytes of binary data after the tensors"), msg);
        // FP16 infinities and NaN in raw data are what they are: refused by default
        byte[] inf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3c00).putShort((short) 0xfc00)
                .putShort((short) 0).putShort((short) 0).array();
        assertTrue(refused(() -> decodeBinary(binaryBody("FP16", 8, inf), true)).contains("infinite value at row 0, column 1"));
        byte[] nan = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0).putShort((short) 0x7fc1).array();
        assertTrue(refused(() -> decodeBinary(binaryBody("BF16", 8, ByteBuffer.allocate(8).put(nan).array()), true))
                .contains("NaN at row 0, column 1"));
    }

    @Test
    void unsupportedDatatypesAreNamed() {
        String msg = refusedJson("BYTES", "[\"a\", \"b\", \"c\", \"d\"]");
        assertTrue(msg.contains("has datatype BYTES, but the model takes numbers"), msg);
        msg = refused(() -> decodeBinary(binaryBody("BYTES", 4, new byte[4]), true));
        assertTrue(msg.contains("BYTES"), msg);
        for (String unknown : new String[] {"FP8", "fp32", "F32", "FLOAT32", ""}) {
            msg = refusedJson(unknown, "[1, 2, 3, 4]");
            assertEquals("input 'input' has unknown datatype '" + unknown + "'; the protocol's datatypes are BOOL, UINT8, "
                    + "UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES", msg);
        }
    }

    /** /openapi.json lists the datatypes of the catalogue the server decodes with, no more, no fewer. */
    @Test
    void theOpenApiDocumentListsTheSameDatatypes() throws Exception {
        JsonNode api;
        try (var in = InferenceServer.class.getResourceAsStream("openapi.json")) {
            api = ServerFixture.JSON.readTree(in);
        }
        java.util.List<JsonNode> enums = api.findParents("enum").stream().map(p -> p.get("enum"))
                .filter(e -> e.toString().contains("\"FP32\"")).toList();
        assertEquals(1, enums.size(), "one datatype enum: " + enums);
        java.util.List<String> documented = new java.util.ArrayList<>();
        enums.get(0).forEach(n -> documented.add(n.asText()));
        assertEquals(io.dense4j.tensor.ElementType.v2Names(), documented);
    }

    /** Through the server: FP16, BF16, INT8, UINT8 and BOOL inputs, JSON and binary, predict what the same floats as FP32 do. */
    @Test
    void theServerPredictsFromEveryEncoding(@TempDir Path tmp) {
        try (ServerFixture f = new ServerFixture(tmp, b -> b)) {
            for (Case c : CASES) {
                if (!c.datatype().matches("FP16|BF16|INT8|UINT8|BOOL")) { // values a small model answers finitely
                    continue;
                }
                float[][] expected = f.expected(1, new float[][] {c.expected()});
                JsonNode fromJson = ok(f.post("/v2/models/iris/infer", jsonRequest(c.datatype(), "[1,4]", c.json())));
                assertPrediction(expected[0], fromJson.get("outputs").get(0).get("data"), c.datatype() + " JSON");
                byte[] body = binaryBody(c.datatype(), c.bytes(), bytes(c));
                HttpResponse<String> r = f.send(f.req("/v2/models/iris/infer")
                        .header("Inference-Header-Content-Length", Integer.toString(headerLength(body)))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
                assertPrediction(expected[0], ok(r).get("outputs").get(0).get("data"), c.datatype() + " binary");
            }
            HttpResponse<String> bad = f.post("/v2/models/iris/infer", jsonRequest("UINT8", "[1,4]", "[1, 2, 3, 300]"));
            assertEquals(400, bad.statusCode());
            assertTrue(bad.body().contains("300 is outside [0, 255]"), bad.body());
        }
    }

    private static void assertPrediction(float[] expected, JsonNode data, String what) {
        assertEquals(expected.length, data.size(), what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], data.get(i).floatValue(), 1e-6, what + " output " + i);
        }
    }
}
