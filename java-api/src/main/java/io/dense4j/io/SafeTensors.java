package io.dense4j.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.tensor.ElementCodec;
import io.dense4j.tensor.ElementConversionException;
import io.dense4j.tensor.ElementType;
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
 * every violation) and reads tensors on demand. Besides F32 and I32 it reads every other numeric
 * {@link ElementType}: F64, F16 and BF16 as float32, I64, U64, U32, I16, U16, I8, U8 and BOOL as int32 (values must
 * fit; BOOL bytes must be 0 or 1). The conversions are {@link ElementCodec}'s.
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
            ByteBuffer buf = ByteBuffer.allocate(CHUNK_BYTES);
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
            ElementType type = storedAs(t.dtype());
            long bytes = type.byteCount(t.size());
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", type.safetensorsName());
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

    /** The dtype a tensor is written as: its own, bit for bit. */
    private static ElementType storedAs(Tensor.DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> ElementType.FLOAT32;
            case INT32 -> ElementType.INT32;
            case UINT8 -> throw new IllegalArgumentException("UINT8 data tensors are not model tensors: a model file "
                    + "holds FLOAT32 and INT32 only");
        };
    }

    private static void writeData(FileChannel ch, Tensor t, ByteBuffer buf) throws IOException {
        ElementType type = storedAs(t.dtype());
        long n = t.size();
        int per = CHUNK_BYTES / type.byteSize();
        float[] floats = t.dtype() == Tensor.DType.FLOAT32 ? new float[per] : null;
        int[] ints = floats == null ? new int[per] : null;
        for (long off = 0; off < n; off += per) {
            int len = (int) Math.min(per, n - off);
            buf.clear();
            if (floats != null) {
                t.read(off, floats, 0, len);
                ElementCodec.encode(type, floats, 0, len, buf);
            } else {
                t.read(off, ints, 0, len);
                ElementCodec.encode(type, ints, 0, len, buf);
            }
            buf.flip();
            AtomicFiles.writeFully(ch, buf);
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
    public record Entry(String name, ElementType dtype, long[] shape, long begin, long end) {
        /** Number of elements. */
        public long size() {
            return (end - begin) / dtype.byteSize();
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
            ElementType dtype = ElementType.fromSafetensorsName(dt.textValue());
            if (dtype == null) {
                throw bad("tensor '" + name + "' has unknown or unsupported dtype '" + dt.textValue()
                        + "' (supported: " + ElementType.safetensorsNames() + ")");
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
                bytes = dtype.byteCount(n);
            } catch (ArithmeticException e) {
                throw bad("tensor '" + name + "' shape " + Arrays.toString(shape) + " overflows");
            }
            if (bytes != end - begin) {
                throw bad("tensor '" + name + "' data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                        + " bytes, but shape " + Arrays.toString(shape) + " of " + dtype.safetensorsName() + " needs "
                        + bytes);
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
                throw new IllegalArgumentException("tensor " + name + " is " + e.dtype().safetensorsName()
                        + ", not a float tensor");
            }
            if (e.size() > Integer.MAX_VALUE - 8) {
                throw bad("tensor " + name + " has " + e.size() + " elements, more than a Java array holds");
            }
            int width = e.dtype().byteSize();
            int perChunk = CHUNK_BYTES / width;
            ByteBuffer buf = ByteBuffer.allocate(perChunk * width);
            float[] out = new float[(int) e.size()];
            for (int off = 0; off < out.length; off += perChunk) {
                int len = Math.min(perChunk, out.length - off);
                buf.clear().limit(len * width);
                readFully(dataStart + e.begin() + (long) off * width, buf);
                buf.flip();
                ElementCodec.decode(e.dtype(), buf, out, off, len); // floats: nothing to refuse
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
            int width = e.dtype().byteSize();
            int perChunk = CHUNK_BYTES / width;
            ByteBuffer buf = ByteBuffer.allocate(perChunk * width);
            long n = e.size();
            boolean isFloat = t.dtype() == Tensor.DType.FLOAT32;
            float[] fv = isFloat ? new float[perChunk] : null;
            int[] iv = isFloat ? null : new int[perChunk];
            for (long off = 0; off < n; off += perChunk) {
                int len = (int) Math.min(perChunk, n - off);
                buf.clear().limit(len * width);
                readFully(dataStart + e.begin() + off * width, buf);
                buf.flip();
                try {
                    if (isFloat) {
                        ElementCodec.decode(e.dtype(), buf, fv, 0, len);
                        t.write(off, fv, 0, len);
                    } else {
                        ElementCodec.decode(e.dtype(), buf, iv, 0, len);
                        t.write(off, iv, 0, len);
                    }
                } catch (ElementConversionException x) {
                    throw bad("tensor '" + e.name() + "' (" + e.dtype().safetensorsName() + "): " + x.problem()
                            + " at index " + (off + x.index()));
                }
            }
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
