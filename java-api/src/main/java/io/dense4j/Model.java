package io.dense4j;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * TEMPORARY STUB of the core engine's {@code Model}, only so that the registry and the server can be
 * developed before the engine lands. It is a single softmax(W x + b) layer in plain Java, stored as a
 * real safetensors file (F32 tensors {@code W} and {@code b}, sizes in {@code __metadata__}).
 * It will be replaced at merge by the real class; nothing outside tests may rely on
 * {@link #temporaryStub}.
 */
public abstract class Model implements AutoCloseable {

    Model() {
    }

    /**
     * Reads a model file.
     *
     * @throws IllegalArgumentException when the file is not a valid model (the real engine throws
     *                                  {@code io.dense4j.io.ModelFormatException}, also unchecked)
     */
    public static Model load(Path file) {
        return Stub.read(file);
    }

    /** TEMPORARY: a deterministic fake model, for tests until the engine's Sequential exists. */
    public static Model temporaryStub(int inputSize, int outputSize, long seed, List<String> classNames) {
        Random r = new Random(seed);
        float[] w = new float[inputSize * outputSize];
        float[] b = new float[outputSize];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) r.nextGaussian();
        }
        return new Stub(inputSize, outputSize, w, b, List.copyOf(classNames));
    }

    /** Writes the model atomically (temporary file, fsync, atomic rename). */
    public abstract void save(Path file);

    public abstract int inputSize();

    public abstract int outputSize();

    public abstract List<String> classNames();

    /** Softmax probabilities for each row; thread-safe. */
    public abstract float[][] predict(float[][] rows);

    @Override
    public abstract void close();

    private static final class Stub extends Model {
        private static final ObjectMapper JSON = new ObjectMapper();
        private final int in;
        private final int out;
        private final float[] w;
        private final float[] b;
        private final List<String> classes;
        private volatile boolean closed;

        Stub(int in, int out, float[] w, float[] b, List<String> classes) {
            this.in = in;
            this.out = out;
            this.w = w;
            this.b = b;
            this.classes = classes;
        }

        static Stub read(Path file) {
            try {
                byte[] all = Files.readAllBytes(file);
                ByteBuffer buf = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
                if (all.length < 8) {
                    throw new IllegalArgumentException("not a model file (too short): " + file);
                }
                long headerLen = buf.getLong(0);
                if (headerLen <= 0 || headerLen > all.length - 8) {
                    throw new IllegalArgumentException("not a model file (bad header length): " + file);
                }
                JsonNode header = JSON.readTree(new String(all, 8, (int) headerLen, StandardCharsets.UTF_8));
                JsonNode meta = header.path("__metadata__");
                int in = Integer.parseInt(meta.path("input_size").asText("0"));
                int out = Integer.parseInt(meta.path("output_size").asText("0"));
                List<String> classes = new ArrayList<>();
                JSON.readTree(meta.path("class_names").asText("[]")).forEach(n -> classes.add(n.asText()));
                int base = 8 + (int) headerLen;
                float[] w = tensor(header, "W", all, base, in * out, file);
                float[] b = tensor(header, "b", all, base, out, file);
                return new Stub(in, out, w, b, List.copyOf(classes));
            } catch (IOException e) {
                if (e instanceof com.fasterxml.jackson.core.JsonProcessingException) {
                    throw new IllegalArgumentException("not a model file (bad header): " + file);
                }
                throw new UncheckedIOException(e);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a model file (bad metadata): " + file);
            }
        }

        private static float[] tensor(JsonNode header, String name, byte[] all, int base, int n, Path file) {
            JsonNode t = header.path(name);
            long from = t.path("data_offsets").path(0).asLong(-1);
            long to = t.path("data_offsets").path(1).asLong(-1);
            if (n <= 0 || from < 0 || to - from != 4L * n || base + to > all.length) {
                throw new IllegalArgumentException("not a model file (tensor " + name + " is missing or truncated): " + file);
            }
            float[] v = new float[n];
            ByteBuffer.wrap(all, base + (int) from, 4 * n).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
            return v;
        }

        @Override
        public void save(Path file) {
            ObjectNode header = JSON.createObjectNode();
            ObjectNode meta = header.putObject("__metadata__");
            meta.put("input_size", Integer.toString(in));
            meta.put("output_size", Integer.toString(out));
            try {
                meta.put("class_names", JSON.writeValueAsString(classes));
                ObjectNode tw = header.putObject("W");
                tw.put("dtype", "F32");
                tw.putArray("shape").add(out).add(in);
                tw.putArray("data_offsets").add(0).add(4L * w.length);
                ObjectNode tb = header.putObject("b");
                tb.put("dtype", "F32");
                tb.putArray("shape").add(out);
                tb.putArray("data_offsets").add(4L * w.length).add(4L * (w.length + b.length));
                byte[] h = JSON.writeValueAsBytes(header);
                ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 4 * (w.length + b.length)).order(ByteOrder.LITTLE_ENDIAN);
                buf.putLong(h.length).put(h);
                for (float f : w) {
                    buf.putFloat(f);
                }
                for (float f : b) {
                    buf.putFloat(f);
                }
                buf.flip();
                Path abs = file.toAbsolutePath();
                Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp-" + ProcessHandle.current().pid());
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                    ch.force(true);
                }
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public int inputSize() {
            return in;
        }

        @Override
        public int outputSize() {
            return out;
        }

        @Override
        public List<String> classNames() {
            return classes;
        }

        @Override
        public float[][] predict(float[][] rows) {
            if (closed) {
                throw new IllegalStateException("model is closed");
            }
            float[][] res = new float[rows.length][];
            for (int r = 0; r < rows.length; r++) {
                float[] x = rows[r];
                if (x == null || x.length != in) {
                    throw new IllegalArgumentException("row " + r + " has " + (x == null ? 0 : x.length)
                            + " features, the model takes " + in);
                }
                float[] z = new float[out];
                float max = Float.NEGATIVE_INFINITY;
                for (int o = 0; o < out; o++) {
                    float s = b[o];
                    for (int i = 0; i < in; i++) {
                        s += w[o * in + i] * x[i];
                    }
                    z[o] = s;
                    max = Math.max(max, s);
                }
                float sum = 0;
                for (int o = 0; o < out; o++) {
                    z[o] = (float) Math.exp(z[o] - max);
                    sum += z[o];
                }
                for (int o = 0; o < out; o++) {
                    z[o] /= sum;
                }
                res[r] = z;
            }
            return res;
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
