package io.dense4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.tensor.ElementReference;
import io.dense4j.tensor.ElementType;
import io.dense4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    /** A float tensor of random bit patterns (every finite value, subnormals, infinities; NaNs canonical). */
    static Tensor randomFloats(long seed, long... shape) {
        Tensor t = Tensor.zeros(shape);
        Random r = new Random(seed);
        float[] v = new float[(int) t.size()];
        for (int i = 0; i < v.length; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            v[i] = Float.isNaN(f) ? Float.NaN : f;
        }
        if (v.length >= 4) {
            v[0] = -0.0f;
            v[1] = Float.MIN_VALUE;
            v[2] = Float.NEGATIVE_INFINITY;
            v[3] = Float.NaN;
        }
        t.write(0, v, 0, v.length);
        return t;
    }

    static Tensor randomInts(long seed, long... shape) {
        Tensor t = Tensor.zerosInt(shape);
        Random r = new Random(seed);
        int[] v = new int[(int) t.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextInt();
        }
        t.write(0, v, 0, v.length);
        return t;
    }

    static void assertBitExact(Tensor expected, Tensor actual) {
        assertEquals(expected.dtype(), actual.dtype());
        assertArrayEquals(expected.shape(), actual.shape());
        if (expected.dtype() == Tensor.DType.FLOAT32) {
            float[] a = expected.toFloatArray();
            float[] b = actual.toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), "element " + i);
            }
        } else {
            assertArrayEquals(expected.toIntArray(), actual.toIntArray());
        }
    }

    LinkedHashMap<String, Tensor> awkward() {
        LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
        m.put("one", randomFloats(1, 1));
        m.put("odd", randomFloats(2, 31));
        m.put("odd2", randomFloats(3, 33));
        m.put("dense.weight", randomFloats(4, 784, 128));
        m.put("dense.bias", randomFloats(5, 128));
        m.put("cube", randomFloats(6, 3, 5, 7));
        m.put("scalar", randomFloats(7));
        m.put("empty", Tensor.zeros(0, 4));
        m.put("counts", randomInts(8, 7, 3));
        m.put("big", randomFloats(9, 600, 1000)); // > the 1 MiB I/O chunk
        return m;
    }

    static void closeAll(Map<String, Tensor> m) {
        m.values().forEach(Tensor::close);
    }

    @Test
    void roundTripIsBitExact() throws IOException {
        Path file = dir.resolve("model.safetensors");
        LinkedHashMap<String, Tensor> in = awkward();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("dense4j.config", "{\"layers\": [\"dense\", 128], \"note\": \"üñí ✓\"}");
        try {
            SafeTensors.write(file, in, meta);
            try (SafeTensors.File f = SafeTensors.read(file)) {
                assertEquals(meta, f.metadata());
                assertEquals(new ArrayList<>(in.keySet()), f.names(), "data order is the write order");
                assertArrayEquals(new long[] {784, 128}, f.shape("dense.weight"));
                assertEquals(ElementType.INT32, f.entry("counts").dtype());
                for (Map.Entry<String, Tensor> e : in.entrySet()) {
                    try (Tensor back = f.tensor(e.getKey())) {
                        assertBitExact(e.getValue(), back);
                    }
                }
                var err = assertThrows(IllegalArgumentException.class, () -> f.tensor("nope"));
                assertTrue(err.getMessage().contains("no tensor 'nope'"), err.getMessage());
            }
            LinkedHashMap<String, Tensor> all = SafeTensors.readAll(file);
            assertEquals(in.keySet(), all.keySet());
            closeAll(all);
        } finally {
            closeAll(in);
        }
        assertEquals(List.of(file), listDir(), "no temporary file left behind");
    }

    /** Parses the written file by hand, following the specification only. */
    @Test
    void writtenFileFollowsTheSpecByteForByte() throws IOException {
        Path file = dir.resolve("spec.safetensors");
        LinkedHashMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("w", Tensor.of(new float[] {1.5f, -2f, 0.1f}, 3, 1));
        in.put("b", Tensor.ofInts(new int[] {7, -1}, 2));
        try {
            SafeTensors.write(file, in, Map.of("k", "v"));
        } finally {
            closeAll(in);
        }
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong(0);
        assertEquals(0, n % 8, "header padded to a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        String json = "{\"__metadata__\":{\"k\":\"v\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[3,1],\"data_offsets\":[0,12]},"
                + "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[12,20]}}";
        assertEquals(json + " ".repeat((int) n - json.length()), header);
        assertTrue(n - json.length() < 8);
        assertEquals(8 + n + 20, bytes.length, "no gaps, no trailing bytes");
        int d = (int) (8 + n);
        assertEquals(1.5f, bb.getFloat(d));
        assertEquals(-2f, bb.getFloat(d + 4));
        assertEquals(0.1f, bb.getFloat(d + 8));
        assertEquals(7, bb.getInt(d + 12));
        assertEquals(-1, bb.getInt(d + 16));
        // and with a general JSON parser, as another implementation would read it
        JsonNode root = new ObjectMapper().readTree(header);
        assertEquals("[12,20]", root.get("b").get("data_offsets").toString());
    }

    @Test
    void noMetadataAndNoTensors() throws IOException {
        Path file = dir.resolve("empty.safetensors");
        SafeTensors.write(file, new LinkedHashMap<>());
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(16, bytes.length);
        assertEquals("{}      ", new String(bytes, 8, 8, StandardCharsets.UTF_8));
        try (SafeTensors.File f = SafeTensors.read(file)) {
            assertTrue(f.names().isEmpty());
            assertTrue(f.metadata().isEmpty());
        }
    }

    // ------------------------------------------------------------------ corrupt files

    /** A file from a header (padded here to 8) and raw data bytes. */
    Path craft(String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return craftRaw(h.length, h, data);
    }

    Path craftRaw(long declaredLen, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLen).put(header).put(data);
        Path p = Files.createTempFile(dir, "bad", ".safetensors");
        return Files.write(p, b.array());
    }

    void assertCorrupt(Path file, String expected) {
        var e = assertThrows(ModelFormatException.class, () -> SafeTensors.read(file).close());
        assertTrue(e.getMessage().startsWith(file.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }

    static String t(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin
                + "," + end + "]}";
    }

    @Test
    void corruptFilesFailClearly() throws IOException {
        assertCorrupt(Files.write(dir.resolve("short"), new byte[5]), "shorter than the 8-byte header length");
        assertCorrupt(craftRaw(1000, "{}".getBytes(), new byte[0]), "header length 1000 exceeds the 2 bytes");
        assertCorrupt(craftRaw(1L << 40, "{}".getBytes(), new byte[0]), "exceeds the 100000000-byte limit");
        assertCorrupt(craftRaw(-1, "{}".getBytes(), new byte[0]), "18446744073709551615");
        assertCorrupt(craft("{\"a\": {", new byte[0]), "not valid JSON");
        assertCorrupt(craft("[1, 2]", new byte[0]), "not a JSON object");
        assertCorrupt(craft("{} {}", new byte[0]), "not valid JSON");
        assertCorrupt(craftRaw(4, new byte[] {'{', (byte) 0xff, (byte) 0xfe, '}'}, new byte[0]), "not valid UTF-8");
        assertCorrupt(craft("{" + t("a", "F99", "[1]", 0, 4) + "}", new byte[4]), "unknown or unsupported dtype 'F99'");
        assertCorrupt(craft("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "no string \"dtype\"");
        assertCorrupt(craft("{" + t("a", "F32", "[-1]", 0, 4) + "}", new byte[4]), "shape[0] must be a non-negative");
        assertCorrupt(craft("{" + t("a", "F32", "[1.5]", 0, 4) + "}", new byte[4]), "shape[0] must be a non-negative");
        assertCorrupt(craft("{" + t("a", "F32", "[2]", 0, 4) + "}", new byte[4]),
                "span 4 bytes, but shape [2] of F32 needs 8");
        assertCorrupt(craft("{" + t("a", "F32", "[1]", 4, 0) + "}", new byte[4]), "end before they begin");
        assertCorrupt(craft("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 4, 12) + "}",
                new byte[12]), "overlap tensor 'a'");
        assertCorrupt(craft("{" + t("a", "F32", "[1]", 0, 4) + "," + t("b", "F32", "[1]", 8, 12) + "}",
                new byte[12]), "gap in the data: bytes [4, 8)");
        assertCorrupt(craft("{" + t("a", "F32", "[1]", 4, 8) + "}", new byte[8]), "gap in the data: bytes [0, 4)");
        assertCorrupt(craft("{" + t("a", "F32", "[4]", 0, 16) + "}", new byte[10]),
                "truncated: the tensors need 16 data bytes, the file holds 10");
        assertCorrupt(craft("{" + t("a", "F32", "[1]", 0, 4) + "}", new byte[7]), "3 bytes of trailing garbage");
        assertCorrupt(craft("{" + t("a", "F32", "[1]", 0, 4) + "," + t("a", "F32", "[1]", 0, 4) + "}",
                new byte[4]), "Duplicate field 'a'");
        assertCorrupt(craft("{\"__metadata__\":{\"k\":1}}", new byte[0]), "metadata value of 'k' must be a string");
        assertCorrupt(craft("{" + t("a", "F32", "[4294967296,4294967296]", 0, 4) + "}", new byte[4]), "overflows");
        // out of header order is fine as long as the data is contiguous
        Path ok = craft("{" + t("b", "F32", "[1]", 4, 8) + "," + t("a", "F32", "[1]", 0, 4) + "}", new byte[8]);
        try (SafeTensors.File f = SafeTensors.read(ok)) {
            assertEquals(List.of("a", "b"), f.names());
        }
    }

    @Test
    void readsOtherDtypes() throws IOException {
        ByteBuffer data = ByteBuffer.allocate(16 + 16 + 3 + 2 + 4 + 4).order(ByteOrder.LITTLE_ENDIAN);
        data.putDouble(0.1).putDouble(-3e40); // F64 -> float32 (second overflows to -inf)
        data.putLong(-5).putLong(1L << 30); // I64
        data.put((byte) 200).put((byte) 0).put((byte) 1); // U8
        data.put((byte) 1).put((byte) 0); // BOOL
        data.putShort((short) 0x3c00).putShort((short) 0xc000); // F16: 1, -2
        data.putShort((short) 0x3f80).putShort((short) 0x4049); // BF16: 1, 3.140625
        String header = "{" + t("f64", "F64", "[2]", 0, 16) + "," + t("i64", "I64", "[2]", 16, 32) + ","
                + t("u8", "U8", "[3]", 32, 35) + "," + t("bool", "BOOL", "[2]", 35, 37) + ","
                + t("f16", "F16", "[2]", 37, 41) + "," + t("bf16", "BF16", "[2]", 41, 45) + "}";
        try (SafeTensors.File f = SafeTensors.read(craft(header, data.array()));
             Tensor f64 = f.tensor("f64");
             Tensor i64 = f.tensor("i64");
             Tensor u8 = f.tensor("u8");
             Tensor bool = f.tensor("bool");
             Tensor f16 = f.tensor("f16");
             Tensor bf16 = f.tensor("bf16")) {
            assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, f64.toFloatArray());
            assertArrayEquals(new int[] {-5, 1 << 30}, i64.toIntArray());
            assertArrayEquals(new int[] {200, 0, 1}, u8.toIntArray());
            assertArrayEquals(new int[] {1, 0}, bool.toIntArray());
            assertArrayEquals(new float[] {1f, -2f}, f16.toFloatArray());
            assertArrayEquals(new float[] {1f, 3.140625f}, bf16.toFloatArray());
        }
        ByteBuffer big = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40);
        try (SafeTensors.File f = SafeTensors.read(craft("{" + t("x", "I64", "[1]", 0, 8) + "}", big.array()))) {
            var e = assertThrows(ModelFormatException.class, () -> f.tensor("x"));
            assertTrue(e.getMessage().contains("does not fit int32"), e.getMessage());
        }
    }

    /** Every F16 and BF16 bit pattern, through the reader (tensor and floats), against the float64 definitions. */
    @Test
    void readsEveryHalfAndBfloat16Pattern() throws IOException {
        ByteBuffer data = ByteBuffer.allocate(4 * 65536).order(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < 65536; h++) {
            data.putShort((short) h);
        }
        for (int h = 0; h < 65536; h++) {
            data.putShort((short) h);
        }
        String header = "{" + t("h", "F16", "[256,256]", 0, 131072) + "," + t("b", "BF16", "[65536]", 131072, 262144) + "}";
        try (SafeTensors.File f = SafeTensors.read(craft(header, data.array()));
             Tensor h = f.tensor("h")) {
            float[] viaTensor = h.toFloatArray();
            float[] half = f.floats("h");
            float[] bf16 = f.floats("b");
            for (int i = 0; i < 65536; i++) {
                double expected = ElementReference.halfValue(i);
                assertEquals(Double.isNaN(expected) ? Double.NaN : expected, (double) half[i], "F16 0x" + Integer.toHexString(i));
                assertEquals(Float.floatToRawIntBits(half[i]), Float.floatToRawIntBits(viaTensor[i]));
                expected = ElementReference.bfloat16Value(i);
                assertEquals(Double.isNaN(expected) ? Double.NaN : expected, (double) bf16[i], "BF16 0x" + Integer.toHexString(i));
            }
        }
    }

    /** Integer values the int32 tensor cannot hold, and BOOL bytes that are not booleans, are refused by index. */
    @Test
    void refusesIntegersOutsideInt32AndBadBooleans() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(8 + 8 + 8 + 4 + 3).order(ByteOrder.LITTLE_ENDIAN);
        d.putLong(-1).putLong(1L << 31) // U64 [2]: 2^64-1, 2^31
                .putInt(7).putInt(-1) // U32 [2]: 7, 2^32-1
                .putInt(0) // I32 [1]
                .put((byte) 1).put((byte) 0).put((byte) 2); // BOOL [3]
        String header = "{" + t("u64", "U64", "[2]", 0, 16) + "," + t("u32", "U32", "[2]", 16, 24) + ","
                + t("i32", "I32", "[1]", 24, 28) + "," + t("bool", "BOOL", "[3]", 28, 31) + "}";
        Path file = craft(header, d.array());
        try (SafeTensors.File f = SafeTensors.read(file)) {
            var e = assertThrows(ModelFormatException.class, () -> f.tensor("u64"));
            assertTrue(e.getMessage().contains("tensor 'u64' (U64): 18446744073709551615 does not fit int32 at index 0"),
                    e.getMessage());
            e = assertThrows(ModelFormatException.class, () -> f.tensor("u32"));
            assertTrue(e.getMessage().contains("tensor 'u32' (U32): 4294967295 does not fit int32 at index 1"), e.getMessage());
            e = assertThrows(ModelFormatException.class, () -> f.tensor("bool"));
            assertTrue(e.getMessage().contains("tensor 'bool' (BOOL): byte 2 is not a boolean (0 or 1) at index 2"),
                    e.getMessage());
            assertTrue(e.getMessage().startsWith(file.toString()), "names the file");
            try (Tensor i32 = f.tensor("i32")) {
                assertArrayEquals(new int[] {0}, i32.toIntArray());
            }
            var notFloat = assertThrows(IllegalArgumentException.class, () -> f.floats("i32"));
            assertTrue(notFloat.getMessage().contains("is I32, not a float tensor"), notFloat.getMessage());
        }
    }

    // ------------------------------------------------------------------ atomic writes

    @Test
    void failedWriteLeavesTheOldFileIntact() throws IOException {
        Path file = dir.resolve("model.safetensors");
        try (Tensor v1 = Tensor.of(new float[] {1, 2, 3}, 3)) {
            SafeTensors.write(file, Map.of("w", v1), Map.of("version", "1"));
        }
        byte[] before = Files.readAllBytes(file);

        // a failure after the temporary file is complete, just before it would replace the target
        List<Path> seen = new ArrayList<>();
        try (Tensor v2 = Tensor.of(new float[] {4, 5, 6, 7}, 4)) {
            IOException e = assertThrows(IOException.class, () -> SafeTensors.write(file, Map.of("w", v2),
                    Map.of("version", "2"), temp -> {
                        seen.add(temp);
                        assertTrue(Files.size(temp) > 0, "temp file written");
                        assertEquals(file.toAbsolutePath().getParent(), temp.getParent(), "temp in the same dir");
                        throw new IOException("disk full (simulated)");
                    }));
            assertEquals("disk full (simulated)", e.getMessage());
        }
        assertEquals(1, seen.size());
        assertFalse(Files.exists(seen.get(0)), "temp file removed");
        assertArrayEquals(before, Files.readAllBytes(file), "old file untouched");
        assertEquals(List.of(file), listDir());

        // invalid input is rejected before anything touches the disk
        Tensor closed = Tensor.zeros(2);
        closed.close();
        var e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(file, Map.of("w", closed)));
        assertTrue(e.getMessage().contains("'w' is closed"), e.getMessage());
        try (Tensor ok = Tensor.zeros(1)) {
            e = assertThrows(IllegalArgumentException.class,
                    () -> SafeTensors.write(file, Map.of("__metadata__", ok)));
            assertTrue(e.getMessage().contains("invalid tensor name"), e.getMessage());
        }
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of(file), listDir());

        // a successful write replaces it
        try (Tensor v3 = Tensor.of(new float[] {9}, 1)) {
            SafeTensors.write(file, Map.of("w", v3), Map.of("version", "3"));
        }
        try (SafeTensors.File f = SafeTensors.read(file); Tensor w = f.tensor("w")) {
            assertEquals("3", f.metadata().get("version"));
            assertArrayEquals(new float[] {9}, w.toFloatArray());
        }
        assertEquals(List.of(file), listDir());
    }

    @Test
    void writeIntoMissingDirectoryFails() {
        try (Tensor t = Tensor.zeros(1)) {
            assertThrows(IOException.class, () -> SafeTensors.write(dir.resolve("no/such/dir/m.safetensors"),
                    Map.of("t", t)));
        }
    }

    // ------------------------------------------------------------------ optional: the reference implementation

    @Test
    void interoperatesWithPythonSafetensors() throws Exception {
        if (!pythonHas("safetensors.numpy") || !pythonHas("numpy")) {
            System.out.println("SKIPPED interoperatesWithPythonSafetensors: python3 with safetensors and numpy "
                    + "is not available");
            org.junit.jupiter.api.Assumptions.abort("python3 safetensors not available");
        }
        Path ours = dir.resolve("ours.safetensors");
        Path theirs = dir.resolve("theirs.safetensors");
        LinkedHashMap<String, Tensor> in = new LinkedHashMap<>();
        in.put("w", randomFloats(1, 33, 7));
        in.put("i", randomInts(2, 5));
        try {
            SafeTensors.write(ours, in, Map.of("format", "np"));
            String script = String.join("\n",
                    "import sys, numpy as np",
                    "from safetensors.numpy import load_file, save_file",
                    "from safetensors import safe_open",
                    "d = load_file(sys.argv[1])",
                    "with safe_open(sys.argv[1], 'np') as f: assert f.metadata() == {'format': 'np'}, f.metadata()",
                    "assert d['w'].dtype == np.float32 and d['w'].shape == (33, 7)",
                    "assert d['i'].dtype == np.int32 and d['i'].shape == (5,)",
                    "save_file({'w': d['w'], 'i': d['i'], 'h': np.arange(6, dtype=np.float16).reshape(2, 3)},",
                    "          sys.argv[2], metadata={'from': 'python'})");
            Process p = new ProcessBuilder("python3", "-c", script, ours.toString(), theirs.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            try (SafeTensors.File f = SafeTensors.read(theirs);
                 Tensor w = f.tensor("w");
                 Tensor i = f.tensor("i");
                 Tensor h = f.tensor("h")) {
                assertEquals("python", f.metadata().get("from"));
                assertBitExact(in.get("w"), w);
                assertBitExact(in.get("i"), i);
                assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, h.toFloatArray());
            }
        } finally {
            closeAll(in);
        }
    }

    static boolean pythonHas(String module) {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import " + module).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    List<Path> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith("bad")).sorted().toList();
        }
    }
}
