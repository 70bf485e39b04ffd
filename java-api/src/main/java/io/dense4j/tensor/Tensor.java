package io.dense4j.tensor;

import io.dense4j.internal.NativeMemory;
import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense row-major tensor of float32, int32 or uint8 in native memory on a {@link Device}.
 *
 * <p>A {@link DType#UINT8} tensor holds bytes that stand for floats: byte {@code b} is the value {@code b / divisor}
 * (float32 division, e.g. {@code divisor = 255} for image pixels in [0, 1], exactly the floats {@code i / 255f}). It
 * is a quarter of the size of the float32 tensor of the same values; its values are read as floats
 * ({@link #read(long, float[], int, int)}, {@link #getFloat}, {@link #row}...) and as bytes, and written as bytes
 * only. The training engine reads the bytes and converts each batch while it gathers it
 * ({@code Idx.readImageBytes}, {@code Mnist.load(dir, Mnist.Pixels.UINT8)}); {@link #toFloat32()} makes the float
 * copy, e.g. to normalize it in place.
 *
 * <p>The memory is owned explicitly: {@link #close()} frees it at once (try-with-resources); the garbage
 * collector only frees what a caller forgot. Shapes are checked on every access path with messages that
 * name the expected and actual shape. Values move in and out through Java arrays ({@link #read}, {@link #write},
 * {@link #toFloatArray}, {@link #row}...); the native pointer itself is reserved to the backends.
 */
public final class Tensor implements AutoCloseable {
    public enum DType {
        FLOAT32(4), INT32(4), UINT8(1);

        private final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }

        /** Bytes per element. */
        public int byteSize() {
            return bytes;
        }
    }

    static {
        NativeMemory.register(new NativeMemory.Access() {
            @Override
            public FloatPointer floats(Object tensor) {
                return new FloatPointer(((Tensor) tensor).floats());
            }

            @Override
            public IntPointer ints(Object tensor) {
                return new IntPointer(((Tensor) tensor).ints());
            }

            @Override
            public BytePointer bytes(Object tensor) {
                return new BytePointer(((Tensor) tensor).bytes());
            }
        });
    }

    private final DType dtype;
    private final long[] shape;
    private final long size;
    private final Device device;
    /** UINT8: byte b stands for b / divisor; 1 for the other dtypes. */
    private final float divisor;
    /** UINT8: the float of each byte value (b / divisor); null for the other dtypes. */
    private final float[] levels;
    /** The allocation, held so that the garbage collector frees it only with this tensor; {@link #data} lies in it. */
    private Pointer block;
    /**
     * The tensor's elements: a view, 64-byte aligned, of {@link #block} (closing it frees the block). Tensors of
     * {@link PageMemory#MIN_BYTES} and more live in {@link PageMemory} (2 MB pages), smaller ones in JavaCPP's malloc.
     */
    private Pointer data;

    /**
     * Bytes the elements are aligned to: a cache line. JavaCPP's allocations start 16 bytes after one, so every
     * 64-byte vector load of a row of weights straddled two lines: measured on the reference training step, 82-85
     * against 88-90 us per step (native, buffers aligned vs 16 bytes off, benchmarks/RESULTS.md "Session 7").
     */
    static final int ALIGN_BYTES = 64;

    private Tensor(DType dtype, float divisor, Device device, long[] shape) {
        this.dtype = dtype;
        this.device = device;
        this.shape = shape.clone();
        this.size = checkedSize(shape);
        this.divisor = dtype == DType.UINT8 ? divisor : 1f;
        this.levels = dtype == DType.UINT8 ? levels(divisor) : null;
        if (!device.isCpu()) {
            throw new UnsupportedOperationException("tensors on " + device + " are not supported by this build");
        }
        // zero-filled: a fresh tensor never exposes garbage
        long n = Math.max(size, 1);
        int width = dtype.byteSize();
        if (n >= PageMemory.MIN_BYTES / width) {
            // large (training sets, big layers): 2 MB pages from our allocator, already on a line
            if (n > Long.MAX_VALUE / width) {
                throw new OutOfMemoryError("a tensor of " + n + " elements is beyond any memory");
            }
            this.block = new PageMemory(n * width);
            this.data = view(dtype, block).capacity(n);
        } else {
            // ALIGN_BYTES / width spare elements are enough to start on a line
            long spare = ALIGN_BYTES / width;
            this.block = (switch (dtype) {
                case FLOAT32 -> new FloatPointer(n + spare);
                case INT32 -> new IntPointer(n + spare);
                case UINT8 -> new BytePointer(n + spare);
            }).zero();
            long shift = (ALIGN_BYTES - block.address() % ALIGN_BYTES) % ALIGN_BYTES / width;
            this.data = switch (dtype) {
                case FLOAT32 -> ((FloatPointer) block).getPointer(shift).capacity(n);
                case INT32 -> ((IntPointer) block).getPointer(shift).capacity(n);
                case UINT8 -> ((BytePointer) block).getPointer(shift).capacity(n);
            };
        }
    }

    private static Pointer view(DType dtype, Pointer block) {
        return switch (dtype) {
            case FLOAT32 -> new FloatPointer(block);
            case INT32 -> new IntPointer(block);
            case UINT8 -> new BytePointer(block);
        };
    }

    /**
     * The float of each byte value, {@code b / divisor}: the divisor must be finite and positive and every value
     * finite (the native engine's rule, d4j_net_train_data).
     */
    private static float[] levels(float divisor) {
        if (!(Float.isFinite(divisor) && divisor > 0f && Float.isFinite(255f / divisor))) {
            throw new IllegalArgumentException("a UINT8 tensor's divisor must be finite and > 0 with 255 / divisor "
                    + "finite, got " + divisor);
        }
        float[] v = new float[256];
        for (int b = 0; b < 256; b++) {
            v[b] = b / divisor;
        }
        return v;
    }

    private static long checkedSize(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** A zero-filled float32 tensor on the CPU. */
    public static Tensor zeros(long... shape) {
        return new Tensor(DType.FLOAT32, 1f, Device.cpu(), shape);
    }

    /** A zero-filled int32 tensor on the CPU. */
    public static Tensor zerosInt(long... shape) {
        return new Tensor(DType.INT32, 1f, Device.cpu(), shape);
    }

    /**
     * A zero-filled uint8 tensor on the CPU whose byte {@code b} stands for {@code b / divisor}.
     *
     * @throws IllegalArgumentException a divisor that is not finite and positive, or with {@code 255 / divisor}
     *     infinite
     */
    public static Tensor zerosUint8(float divisor, long... shape) {
        return new Tensor(DType.UINT8, divisor, Device.cpu(), shape);
    }

    /** A uint8 tensor holding a copy of {@code values} (unsigned), standing for {@code b / divisor}. */
    public static Tensor ofUint8(byte[] values, float divisor, long... shape) {
        Tensor t = zerosUint8(divisor, shape);
        if (values.length != t.size) {
            t.close();
            throw new IllegalArgumentException("expected " + t.size + " values for shape " + Arrays.toString(shape)
                    + ", got " + values.length);
        }
        t.bytes().put(values);
        return t;
    }

    /** A float32 tensor holding a copy of {@code values}, whose length must match the shape. */
    public static Tensor of(float[] values, long... shape) {
        Tensor t = zeros(shape);
        if (values.length != t.size) {
            t.close();
            throw new IllegalArgumentException("expected " + t.size + " values for shape " + Arrays.toString(shape)
                    + ", got " + values.length);
        }
        t.floats().put(values);
        return t;
    }

    /** An int32 tensor holding a copy of {@code values}, whose length must match the shape. */
    public static Tensor ofInts(int[] values, long... shape) {
        Tensor t = zerosInt(shape);
        if (values.length != t.size) {
            t.close();
            throw new IllegalArgumentException("expected " + t.size + " values for shape " + Arrays.toString(shape)
                    + ", got " + values.length);
        }
        t.ints().put(values);
        return t;
    }

    /** A float32 [rows, cols] tensor from a rectangular array. */
    public static Tensor of(float[][] rows) {
        int cols = rows.length == 0 ? 0 : rows[0].length;
        Tensor t = zeros(rows.length, cols);
        FloatPointer p = t.floats();
        for (int r = 0; r < rows.length; r++) {
            if (rows[r].length != cols) {
                t.close();
                throw new IllegalArgumentException("row " + r + " has " + rows[r].length + " values, row 0 has " + cols);
            }
            p.position((long) r * cols).put(rows[r]);
        }
        p.position(0);
        return t;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    /** Number of elements. */
    public long size() {
        return size;
    }

    public Device device() {
        return device;
    }

    /** UINT8: the divisor its bytes are read with (byte {@code b} stands for {@code b / divisor}); 1 otherwise. */
    public float divisor() {
        return divisor;
    }

    /** The native float buffer (position 0). Only for float32 tensors. */
    private FloatPointer floats() {
        checkOpen();
        if (dtype != DType.FLOAT32) {
            throw new IllegalStateException("tensor is " + dtype + ", not FLOAT32");
        }
        return (FloatPointer) data.position(0);
    }

    /** The native byte buffer (position 0). Only for uint8 tensors. */
    private BytePointer bytes() {
        checkOpen();
        if (dtype != DType.UINT8) {
            throw new IllegalStateException("tensor is " + dtype + ", not UINT8");
        }
        return (BytePointer) data.position(0);
    }

    /** The native int buffer (position 0). Only for int32 tensors. */
    private IntPointer ints() {
        checkOpen();
        if (dtype != DType.INT32) {
            throw new IllegalStateException("tensor is " + dtype + ", not INT32");
        }
        return (IntPointer) data.position(0);
    }

    /** Requires this shape exactly; the message names both shapes. */
    public Tensor requireShape(String what, long... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new IllegalArgumentException(what + ": expected shape " + Arrays.toString(expected)
                    + ", got " + Arrays.toString(shape));
        }
        return this;
    }

    public float getFloat(long index) {
        checkIndex(index);
        return levels != null ? levels[bytes().get(index) & 0xff] : floats().get(index);
    }

    public int getInt(long index) {
        checkIndex(index);
        return ints().get(index);
    }

    public void setFloat(long index, float v) {
        checkIndex(index);
        writableFloats().put(index, v);
    }

    /**
     * Copies {@code length} float32 elements starting at element {@code offset} into {@code dst[dstOffset...]} (a
     * UINT8 tensor's as the floats its bytes stand for).
     *
     * @throws IndexOutOfBoundsException when either range is outside its array
     */
    public void read(long offset, float[] dst, int dstOffset, int length) {
        checkRange(offset, length, dst.length, dstOffset);
        if (levels == null) {
            new FloatPointer(floats()).position(offset).get(dst, dstOffset, length);
            return;
        }
        byte[] b = new byte[Math.min(length, 1 << 16)];
        BytePointer p = new BytePointer(bytes());
        for (int done = 0; done < length; done += b.length) {
            int len = Math.min(b.length, length - done);
            p.position(offset + done).get(b, 0, len);
            for (int i = 0; i < len; i++) {
                dst[dstOffset + done + i] = levels[b[i] & 0xff];
            }
        }
    }

    /** Copies {@code length} uint8 elements starting at element {@code offset} into {@code dst[dstOffset...]}. */
    public void read(long offset, byte[] dst, int dstOffset, int length) {
        checkRange(offset, length, dst.length, dstOffset);
        new BytePointer(bytes()).position(offset).get(dst, dstOffset, length);
    }

    /** Copies {@code src[srcOffset...srcOffset+length)} into the uint8 elements starting at {@code offset}. */
    public void write(long offset, byte[] src, int srcOffset, int length) {
        checkRange(offset, length, src.length, srcOffset);
        new BytePointer(bytes()).position(offset).put(src, srcOffset, length);
    }

    /** Copies {@code length} int32 elements starting at element {@code offset} into {@code dst[dstOffset...]}. */
    public void read(long offset, int[] dst, int dstOffset, int length) {
        checkRange(offset, length, dst.length, dstOffset);
        new IntPointer(ints()).position(offset).get(dst, dstOffset, length);
    }

    /** Copies {@code src[srcOffset...srcOffset+length)} into the float32 elements starting at {@code offset}. */
    public void write(long offset, float[] src, int srcOffset, int length) {
        checkRange(offset, length, src.length, srcOffset);
        new FloatPointer(writableFloats()).position(offset).put(src, srcOffset, length);
    }

    /** floats(), with the message a UINT8 tensor's float write deserves. */
    private FloatPointer writableFloats() {
        if (dtype == DType.UINT8) {
            throw new IllegalStateException("a UINT8 tensor holds bytes: write bytes, or write floats to its float32 "
                    + "copy (toFloat32())");
        }
        return floats();
    }

    /** Copies {@code src[srcOffset...srcOffset+length)} into the int32 elements starting at {@code offset}. */
    public void write(long offset, int[] src, int srcOffset, int length) {
        checkRange(offset, length, src.length, srcOffset);
        new IntPointer(ints()).position(offset).put(src, srcOffset, length);
    }

    private void checkRange(long offset, int length, int arrayLength, int arrayOffset) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("elements [" + offset + ", " + (offset + length) + ") outside [0, "
                    + size + ")");
        }
        if (arrayOffset < 0 || arrayOffset > arrayLength - length) {
            throw new IndexOutOfBoundsException("array range [" + arrayOffset + ", " + (arrayOffset + length)
                    + ") outside [0, " + arrayLength + ")");
        }
    }

    /** Sets every element to zero, in place (PyTorch's {@code zero_()}). */
    public void zero() {
        switch (dtype) {
            case FLOAT32 -> floats().zero();
            case INT32 -> ints().zero();
            case UINT8 -> bytes().zero();
        }
    }

    /** Copies every element out (float32; a UINT8 tensor's as the floats its bytes stand for). */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(size)];
        read(0, out, 0, out.length);
        return out;
    }

    /**
     * A float32 tensor of the same shape and values (for UINT8, the floats its bytes stand for, bit for bit what
     * the training engine computes with); a copy for a FLOAT32 tensor.
     *
     * @throws IllegalStateException an INT32 tensor
     */
    public Tensor toFloat32() {
        if (dtype == DType.INT32) {
            throw new IllegalStateException("toFloat32 converts FLOAT32 and UINT8 tensors, this one is INT32");
        }
        if (dtype == DType.FLOAT32) {
            return copy();
        }
        Tensor out = zeros(shape);
        try {
            float[] buf = new float[(int) Math.min(size, 1 << 16)];
            for (long off = 0; off < size; off += buf.length) {
                int len = (int) Math.min(buf.length, size - off);
                read(off, buf, 0, len);
                out.write(off, buf, 0, len);
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Copies every element out (int32). */
    public int[] toIntArray() {
        int[] out = new int[Math.toIntExact(size)];
        ints().get(out);
        return out;
    }

    /** Copies row {@code r} of a rank-2 float tensor. */
    public float[] row(long r) {
        if (rank() != 2) {
            throw new IllegalStateException("row() needs a rank-2 tensor, shape is " + Arrays.toString(shape));
        }
        if (r < 0 || r >= shape[0]) {
            throw new IndexOutOfBoundsException("row " + r + " outside [0, " + shape[0] + ")");
        }
        float[] out = new float[Math.toIntExact(shape[1])];
        read(r * shape[1], out, 0, out.length);
        return out;
    }

    /** A new tensor with rows {@code idx} of this rank >= 1 tensor (any dtype), in that order. */
    public Tensor gatherRows(int[] idx) {
        long rowLen = shape.length == 1 ? 1 : size / shape[0];
        long[] newShape = shape.clone();
        newShape[0] = idx.length;
        Tensor out = new Tensor(dtype, divisor, device, newShape);
        long bytes = rowLen * dtype.byteSize();
        for (int i = 0; i < idx.length; i++) {
            if (idx[i] < 0 || idx[i] >= shape[0]) {
                out.close();
                throw new IndexOutOfBoundsException("row " + idx[i] + " outside [0, " + shape[0] + ")");
            }
            // Pointer.memcpy takes void* arguments, so JavaCPP applies the positions in BYTES, not elements
            Pointer.memcpy(new Pointer(out.data).position(i * bytes), new Pointer(data).position(idx[i] * bytes), bytes);
        }
        return out;
    }

    /** A deep copy. */
    public Tensor copy() {
        Tensor out = new Tensor(dtype, divisor, device, shape);
        checkOpen();
        Pointer.memcpy(out.data, new Pointer(data), size * dtype.byteSize());
        return out;
    }

    public boolean isClosed() {
        return data == null;
    }

    /** Frees the native memory now. Idempotent. */
    @Override
    public synchronized void close() { // (two threads closing one tensor must not free it twice)
        if (data != null) {
            data.close();  // frees the block (a view shares its allocation's deallocator)
            data = null;
            block = null;
        }
    }

    private void checkOpen() {
        if (data == null) {
            throw new IllegalStateException("tensor " + Arrays.toString(shape) + " was closed");
        }
    }

    private void checkIndex(long index) {
        if (index < 0 || index >= size) {
            throw new IndexOutOfBoundsException("index " + index + " outside [0, " + size + ")");
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + (dtype == DType.UINT8 ? " / " + divisor : "")
                + " on " + device;
    }
}
