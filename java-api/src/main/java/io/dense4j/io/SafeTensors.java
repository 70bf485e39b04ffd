package io.dense4j.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Reader and writer of the <a href="https://github.com/huggingface/safetensors">safetensors</a> format, so
 * that weights move between Dense4J and PyTorch/NumPy/Hugging Face tools:
 *
 * <pre>
 * [8 bytes]  N, the header length, unsigned little-endian
 * [N bytes]  UTF-8 JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *                         "__metadata__": {"key": "value", ...}}, padded with spaces
 * [rest]     the tensors' little-endian bytes, contiguous, offsets relative to the end of the header
 * </pre>
 *
 * <p>The writer stores {@link Tensor.DType#FLOAT32} as {@code F32} and {@link Tensor.DType#INT32} as
 * {@code I32}, in the map's iteration order, with the header padded to a multiple of 8 bytes as the
 * reference implementation does. Writes are atomic: the data goes to a temporary file in the same directory,
 * is flushed to disk, then renamed over the target; on any failure the target is untouched.
 *
 * <p>The reader validates the whole layout when opening ({@link ModelFormatException} naming the file for
 * every violation) and reads tensors on demand. Besides F32 and I32 it reads F64, F16 and BF16 (converted to
 * float32) and I64, U32, U64, I16, U16, I8, U8 and BOOL (converted to int32; 64-bit values must fit).
 */
public final class SafeTensors {
    /** The largest header accepted; larger ones are corrupt or hostile files (the reference limit is 100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    /** The reserved header key of the string-to-string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    private static final int CHUNK_BYTES = 1 << 20;
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** Element types of the format, with their sizes; those this reader converts are listed in the class doc. */
    public enum Dtype {
        BOOL(1), U8(1), I8(1), I16(2), U16(2), F16(2), BF16(2), I32(4), U32(4), F32(4), F64(8), I64(8), U64(8);

        private final int bytes;

        Dtype(int bytes) {
            this.bytes = bytes;
        }

        /** Bytes per element. */
        public int bytes() {
            return bytes;
        }

        /** The Dense4J tensor type this dtype is read as. */
        public Tensor.DType tensorType() {
            return switch (this) {
                case F16, BF16, F32, F64 -> Tensor.DType.FLOAT32;
                default -> Tensor.DType.INT32;
            };
        }

        static Dtype parse(String s) {
            for (Dtype d : values()) {
                if (d.name().equals(s)) {
                    return d;
                }
            }
            return null;
        }
    }

    private SafeTensors() {
    }

    // ================================================================ writing

    /** {@link #write(Path, Map, Map)} without metadata. */
    public static void write(Path file, Map<String, Tensor> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} (in the map's iteration order; pass a {@link LinkedHashMap} to control it) and
     * {@code metadata} to {@code file} atomically, replacing any existing file only when the whole write
     * succeeded.
     *
     * @param metadata string pairs stored under {@code "__metadata__"}; may be empty or null
     * @throws IllegalArgumentException an empty or reserved name, a closed tensor (nothing is written)
     * @throws IOException the write failed; the target is untouched and the temporary file removed
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        write(file, tensors, metadata, temp -> { });
    }

    static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata,
                      AtomicFiles.CommitHook hook) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(tensors, "tensors");
        byte[] header = header(tensors, metadata == null ? Map.of() : metadata);
        AtomicFiles.write(file, ch -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            AtomicFiles.writeFully(ch, len);
            AtomicFiles.writeFully(ch, ByteBuffer.wrap(header));
            ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (Tensor t : tensors.values()) {
                writeData(ch, t, buf);
            }
        }, hook);
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes. Validates the input first. */
    private static byte[] header(Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new IllegalArgumentException("metadata keys and values must not be null: " + metadata);
                }
            }
            root.put(METADATA_KEY, new LinkedHashMap<>(metadata));
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null || name.isEmpty() || name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("invalid tensor name '" + name + "'");
            }
            if (t == null || t.isClosed()) {
                throw new IllegalArgumentException("tensor '" + name + "' is " + (t == null ? "null" : "closed"));
            }
            String dtype = switch (t.dtype()) {
                case FLOAT32 -> "F32";
                case INT32 -> "I32";
            };
            long bytes = Math.multiplyExact(t.size(), 4L);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", dtype);
            info.put("shape", t.shape());
            info.put("data_offsets", new long[] {offset, offset + bytes});
            root.put(name, info);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(root);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    private static void writeData(FileChannel ch, Tensor t, ByteBuffer buf) throws IOException {
        long n = t.size();
        int per = CHUNK_BYTES / 4;
        if (t.dtype() == Tensor.DType.FLOAT32) {
            float[] vals = new float[per];
            for (long off = 0; off < n; off += per) {
                int len = (int) Math.min(per, n - off);
                t.read(off, vals, 0, len);
                buf.clear();
                buf.asFloatBuffer().put(vals, 0, len);
                buf.limit(len * 4);
                AtomicFiles.writeFully(ch, buf);
            }
        } else {
            int[] vals = new int[per];
            for (long off = 0; off < n; off += per) {
                int len = (int) Math.min(per, n - off);
                t.read(off, vals, 0, len);
                buf.clear();
                buf.asIntBuffer().put(vals, 0, len);
                buf.limit(len * 4);
                AtomicFiles.writeFully(ch, buf);
            }
        }
    }

    // ================================================================ reading

    /**
     * Opens and validates {@code file}; tensors are read on demand from the returned handle, which must be
     * closed.
     *
     * @throws ModelFormatException the file violates the format; the message names the file and the problem
     * @throws IOException the file cannot be read
     */
    public static File read(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new File(file, ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Reads every tensor of {@code file}, in data order; the caller owns (and closes) them. */
    public static LinkedHashMap<String, Tensor> readAll(Path file) throws IOException {
        try (File f = read(file)) {
            return f.tensors();
        }
    }

    /** One tensor's header entry. */
    public record Entry(String name, Dtype dtype, long[] shape, long begin, long end) {
        /** Number of elements. */
        public long size() {
            return (end - begin) / dtype.bytes();
        }
    }

    /** An open, validated safetensors file. Tensors are read on demand; close it when done. */
    public static final class File implements AutoCloseable {
        private final Path path;
        private final FileChannel channel;
        private final Map<String, String> metadata;
        private final LinkedHashMap<String, Entry> entries;
        /** Absolute file offset of the data buffer: 8 + header length. */
        private final long dataStart;

        private File(Path path, FileChannel ch) throws IOException {
            this.path = path;
            this.channel = ch;
            long fileSize = ch.size();
            if (fileSize < 8) {
                throw bad("file is " + fileSize + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(0, lenBuf);
            long headerLen = lenBuf.getLong(0);
            // unsigned: a negative long is a length above 2^63, absurd as well
            if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
                throw bad("header length " + Long.toUnsignedString(headerLen) + " exceeds the "
                        + MAX_HEADER_BYTES + "-byte limit (not a safetensors file?)");
            }
            if (headerLen > fileSize - 8) {
                throw bad("header length " + headerLen + " exceeds the " + (fileSize - 8)
                        + " bytes after the length field (truncated file?)");
            }
            if (headerLen < 2) {
                throw bad("header of " + headerLen + " bytes cannot hold a JSON object");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(8, hb);
            this.dataStart = 8 + headerLen;
            JsonNode root = parseHeader(hb.array());
            this.metadata = parseMetadata(root.get(METADATA_KEY));
            this.entries = parseEntries(root, fileSize - dataStart);
        }

        private JsonNode parseHeader(byte[] bytes) {
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw bad("header is not valid UTF-8");
            }
            if (!text.startsWith("{")) {
                throw bad("header does not start with '{': not a JSON object");
            }
            JsonNode root;
            try {
                root = JSON.readTree(text);
            } catch (JsonProcessingException e) {
                throw new ModelFormatException(path + ": header is not valid JSON: " + e.getOriginalMessage(), e);
            }
            if (root == null || !root.isObject()) {
                throw bad("header is not a JSON object");
            }
            return root;
        }

        private Map<String, String> parseMetadata(JsonNode node) {
            if (node == null || node.isNull()) {
                return Map.of();
            }
            if (!node.isObject()) {
                throw bad("\"" + METADATA_KEY + "\" must be an object of strings, got " + node.getNodeType());
            }
            Map<String, String> m = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (!e.getValue().isTextual()) {
                    throw bad("metadata value of '" + e.getKey() + "' must be a string, got "
                            + e.getValue().getNodeType());
                }
                m.put(e.getKey(), e.getValue().textValue());
            }
            return Collections.unmodifiableMap(m);
        }

        private LinkedHashMap<String, Entry> parseEntries(JsonNode root, long dataLen) {
            List<Entry> list = new ArrayList<>();
            for (Map.Entry<String, JsonNode> e : root.properties()) {
                if (!e.getKey().equals(METADATA_KEY)) {
                    list.add(parseEntry(e.getKey(), e.getValue()));
                }
            }
            // the data buffer must be exactly the tensors, back to back: sort by offsets and walk it
            list.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
            long expected = 0;
            String previous = null;
            for (Entry en : list) {
                if (en.begin() < expected) {
                    throw bad("tensor '" + en.name() + "' data_offsets [" + en.begin() + ", " + en.end()
                            + "] overlap tensor '" + previous + "' which ends at " + expected);
                }
                if (en.begin() > expected) {
                    throw bad("gap in the data: bytes [" + expected + ", " + en.begin() + ") before tensor '"
                            + en.name() + "' belong to no tensor");
                }
                expected = en.end();
                previous = en.name();
            }
            if (expected > dataLen) {
                throw bad("truncated: the tensors need " + expected + " data bytes, the file holds " + dataLen);
            }
            if (expected < dataLen) {
                throw bad((dataLen - expected) + " bytes of trailing garbage after the last tensor (data ends at "
                        + expected + ", the file has " + dataLen + " data bytes)");
            }
            LinkedHashMap<String, Entry> map = new LinkedHashMap<>();
            for (Entry en : list) {
                map.put(en.name(), en);
            }
            return map;
        }

        private Entry parseEntry(String name, JsonNode node) {
            if (!node.isObject()) {
                throw bad("tensor '" + name + "' must be an object, got " + node.getNodeType());
            }
            JsonNode dt = node.get("dtype");
            if (dt == null || !dt.isTextual()) {
                throw bad("tensor '" + name + "' has no string \"dtype\"");
            }
            Dtype dtype = Dtype.parse(dt.textValue());
            if (dtype == null) {
                throw bad("tensor '" + name + "' has unknown or unsupported dtype '" + dt.textValue()
                        + "' (supported: " + Arrays.toString(Dtype.values()) + ")");
            }
            JsonNode sh = node.get("shape");
            if (sh == null || !sh.isArray()) {
                throw bad("tensor '" + name + "' has no \"shape\" array");
            }
            long[] shape = new long[sh.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = nonNegative(sh.get(i), name, "shape[" + i + "]");
            }
            JsonNode off = node.get("data_offsets");
            if (off == null || !off.isArray() || off.size() != 2) {
                throw bad("tensor '" + name + "' needs \"data_offsets\": [begin, end]");
            }
            long begin = nonNegative(off.get(0), name, "data_offsets[0]");
            long end = nonNegative(off.get(1), name, "data_offsets[1]");
            if (end < begin) {
                throw bad("tensor '" + name + "' data_offsets [" + begin + ", " + end + "] end before they begin");
            }
            long bytes;
            try {
                long n = 1;
                for (long d : shape) {
                    n = Math.multiplyExact(n, d);
                }
                bytes = Math.multiplyExact(n, (long) dtype.bytes());
            } catch (ArithmeticException e) {
                throw bad("tensor '" + name + "' shape " + Arrays.toString(shape) + " overflows");
            }
            if (bytes != end - begin) {
                throw bad("tensor '" + name + "' data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                        + " bytes, but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + bytes);
            }
            return new Entry(name, dtype, shape, begin, end);
        }

        private long nonNegative(JsonNode v, String name, String what) {
            if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw bad("tensor '" + name + "' " + what + " must be a non-negative integer, got " + v);
            }
            return v.longValue();
        }

        /** The file this handle reads. */
        public Path path() {
            return path;
        }

        /** The {@code "__metadata__"} pairs, empty when absent. Unmodifiable. */
        public Map<String, String> metadata() {
            return metadata;
        }

        /** Tensor names in data order (the order the writer was given). */
        public List<String> names() {
            return List.copyOf(entries.keySet());
        }

        public boolean contains(String name) {
            return entries.containsKey(name);
        }

        /** The header entry of {@code name}: dtype, shape and offsets. */
        public Entry entry(String name) {
            Entry e = entries.get(name);
            if (e == null) {
                throw new IllegalArgumentException(path + ": no tensor '" + name + "'; it has " + entries.keySet());
            }
            return e;
        }

        /** The shape of {@code name}, without reading its data. */
        public long[] shape(String name) {
            return entry(name).shape().clone();
        }

        /**
         * Reads {@code name} into a new tensor the caller owns: F32 bit-exact, other float types converted to
         * float32, integer types to int32.
         *
         * @throws ModelFormatException a 64-bit or unsigned 32-bit integer that does not fit int32, or the
         *     file shrank since it was opened
         */
        public Tensor tensor(String name) throws IOException {
            if (!channel.isOpen()) {
                throw new IllegalStateException(path + " was closed");
            }
            Entry e = entry(name);
            Tensor t = e.dtype().tensorType() == Tensor.DType.FLOAT32 ? Tensor.zeros(e.shape())
                    : Tensor.zerosInt(e.shape());
            try {
                readInto(e, t);
                return t;
            } catch (IOException | RuntimeException ex) {
                t.close();
                throw ex;
            }
        }

        /**
         * Reads a float tensor ({@code F32} bit-exact, {@code F64}, {@code F16}, {@code BF16} converted) straight
         * into a Java array, without native memory.
         *
         * @throws IllegalArgumentException the tensor has an integer dtype
         * @throws ModelFormatException it has more elements than a Java array holds, or the file shrank
         */
        public float[] floats(String name) throws IOException {
            if (!channel.isOpen()) {
                throw new IllegalStateException(path + " was closed");
            }
            Entry e = entry(name);
            if (e.dtype().tensorType() != Tensor.DType.FLOAT32) {
                throw new IllegalArgumentException("tensor " + name + " is " + e.dtype() + ", not a float tensor");
            }
            if (e.size() > Integer.MAX_VALUE - 8) {
                throw bad("tensor " + name + " has " + e.size() + " elements, more than a Java array holds");
            }
            int width = e.dtype().bytes();
            int perChunk = CHUNK_BYTES / width;
            ByteBuffer buf = ByteBuffer.allocate(perChunk * width).order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[(int) e.size()];
            float[] chunk = new float[perChunk];
            for (int off = 0; off < out.length; off += perChunk) {
                int len = Math.min(perChunk, out.length - off);
                buf.clear().limit(len * width);
                readFully(dataStart + e.begin() + (long) off * width, buf);
                buf.flip();
                decodeFloats(e.dtype(), buf, chunk, len);
                System.arraycopy(chunk, 0, out, off, len);
            }
            return out;
        }

        /** Reads every tensor, in data order; the caller owns (and closes) them. */
        public LinkedHashMap<String, Tensor> tensors() throws IOException {
            LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
            try {
                for (String name : entries.keySet()) {
                    out.put(name, tensor(name));
                }
            } catch (IOException | RuntimeException ex) {
                out.values().forEach(Tensor::close);
                throw ex;
            }
            return out;
        }

        private void readInto(Entry e, Tensor t) throws IOException {
            int width = e.dtype().bytes();
            int perChunk = CHUNK_BYTES / width;
            ByteBuffer buf = ByteBuffer.allocate(perChunk * width).order(ByteOrder.LITTLE_ENDIAN);
            long n = e.size();
            boolean isFloat = t.dtype() == Tensor.DType.FLOAT32;
            float[] fv = isFloat ? new float[perChunk] : null;
            int[] iv = isFloat ? null : new int[perChunk];
            for (long off = 0; off < n; off += perChunk) {
                int len = (int) Math.min(perChunk, n - off);
                buf.clear().limit(len * width);
                readFully(dataStart + e.begin() + off * width, buf);
                buf.flip();
                if (isFloat) {
                    decodeFloats(e.dtype(), buf, fv, len);
                    t.write(off, fv, 0, len);
                } else {
                    decodeInts(e, buf, iv, len, off);
                    t.write(off, iv, 0, len);
                }
            }
        }

        private static void decodeFloats(Dtype dt, ByteBuffer b, float[] out, int len) {
            switch (dt) {
                case F32 -> b.asFloatBuffer().get(out, 0, len);
                case F64 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = (float) b.getDouble(i * 8);
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
                    }
                }
                case F16 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = halfToFloat(b.getShort(i * 2));
                    }
                }
                default -> throw new AssertionError(dt);
            }
        }

        private void decodeInts(Entry e, ByteBuffer b, int[] out, int len, long off) {
            switch (e.dtype()) {
                case I32 -> b.asIntBuffer().get(out, 0, len);
                case BOOL, U8 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = b.get(i) & 0xff;
                    }
                }
                case I8 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = b.get(i);
                    }
                }
                case I16 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = b.getShort(i * 2);
                    }
                }
                case U16 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = b.getShort(i * 2) & 0xffff;
                    }
                }
                case U32 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = narrow(e, Integer.toUnsignedLong(b.getInt(i * 4)), off + i);
                    }
                }
                case I64 -> {
                    for (int i = 0; i < len; i++) {
                        out[i] = narrow(e, b.getLong(i * 8), off + i);
                    }
                }
                case U64 -> {
                    for (int i = 0; i < len; i++) {
                        long v = b.getLong(i * 8);
                        out[i] = narrow(e, v < 0 ? Long.MAX_VALUE : v, off + i); // v < 0: above 2^63
                    }
                }
                default -> throw new AssertionError(e.dtype());
            }
        }

        private int narrow(Entry e, long v, long index) {
            if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                throw bad("tensor '" + e.name() + "' (" + e.dtype() + ") value " + v + " at index " + index
                        + " does not fit int32");
            }
            return (int) v;
        }

        /** IEEE 754 binary16 to float32, exact (every half value is a float value). */
        static float halfToFloat(short h) {
            int bits = h & 0xffff;
            int sign = (bits & 0x8000) << 16;
            int exp = (bits >>> 10) & 0x1f;
            int mant = bits & 0x3ff;
            if (exp == 0x1f) { // inf or NaN
                return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
            }
            if (exp == 0) { // zero or subnormal: mant * 2^-24
                float v = mant * 0x1p-24f;
                return sign != 0 ? -v : v;
            }
            return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
        }

        private void readFully(long position, ByteBuffer b) throws IOException {
            long pos = position;
            while (b.hasRemaining()) {
                int r = channel.read(b, pos);
                if (r < 0) {
                    throw bad("truncated: unexpected end of file at byte " + pos);
                }
                pos += r;
            }
        }

        private ModelFormatException bad(String msg) {
            return new ModelFormatException(path + ": " + msg);
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }

        @Override
        public String toString() {
            return "SafeTensors.File[" + path + ", " + entries.size() + " tensors]";
        }
    }
}
