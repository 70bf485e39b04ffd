package io.dense4j.tensor;

import io.dense4j.internal.NativeMemory;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense row-major tensor of float32 or int32 in native memory on a {@link Device}.
 *
 * <p>The memory is owned explicitly: {@link #close()} frees it at once (try-with-resources); the garbage
 * collector only frees what a caller forgot. Shapes are checked on every access path with messages that
 * name the expected and actual shape. Values move in and out through Java arrays ({@link #read}, {@link #write},
 * {@link #toFloatArray}, {@link #row}...); the native pointer itself is reserved to the backends.
 */
public final class Tensor implements AutoCloseable {
    public enum DType { FLOAT32, INT32 }

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
        });
    }

    private final DType dtype;
    private final long[] shape;
    private final long size;
    private final Device device;
    /** The allocation, held so that the garbage collector frees it only with this tensor; {@link #data} lies in it. */
    private Pointer block;
    /** The tensor's elements: a view, 64-byte aligned, of {@link #block} (closing it frees the block). */
    private Pointer data;

    /**
     * Bytes the elements are aligned to: a cache line. JavaCPP's allocations start 16 bytes after one, so every
     * 64-byte vector load of a row of weights straddled two lines: measured on the reference training step, 82-85
     * against 88-90 us per step (native, buffers aligned vs 16 bytes off, benchmarks/RESULTS.md "Session 7").
     */
    static final int ALIGN_BYTES = 64;

    private Tensor(DType dtype, Device device, long[] shape) {
        this.dtype = dtype;
        this.device = device;
        this.shape = shape.clone();
        this.size = checkedSize(shape);
        if (!device.isCpu()) {
            throw new UnsupportedOperationException("tensors on " + device + " are not supported by this build");
        }
        // zero-filled: a fresh tensor never exposes garbage; 4-byte elements, so ALIGN_BYTES / 4 spare ones
        // are enough to start on a line
        long n = Math.max(size, 1);
        long spare = ALIGN_BYTES / 4;
        this.block = dtype == DType.FLOAT32 ? new FloatPointer(n + spare).zero() : new IntPointer(n + spare).zero();
        long shift = (ALIGN_BYTES - block.address() % ALIGN_BYTES) % ALIGN_BYTES / 4;
        this.data = dtype == DType.FLOAT32 ? ((FloatPointer) block).getPointer(shift).capacity(n)
                : ((IntPointer) block).getPointer(shift).capacity(n);
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
        return new Tensor(DType.FLOAT32, Device.cpu(), shape);
    }

    /** A zero-filled int32 tensor on the CPU. */
    public static Tensor zerosInt(long... shape) {
        return new Tensor(DType.INT32, Device.cpu(), shape);
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

    /** The native float buffer (position 0). Only for float32 tensors. */
    private FloatPointer floats() {
        checkOpen();
        if (dtype != DType.FLOAT32) {
            throw new IllegalStateException("tensor is " + dtype + ", not FLOAT32");
        }
        return (FloatPointer) data.position(0);
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
        return floats().get(index);
    }

    public int getInt(long index) {
        checkIndex(index);
        return ints().get(index);
    }

    public void setFloat(long index, float v) {
        checkIndex(index);
        floats().put(index, v);
    }

    /**
     * Copies {@code length} float32 elements starting at element {@code offset} into {@code dst[dstOffset...]}.
     *
     * @throws IndexOutOfBoundsException when either range is outside its array
     */
    public void read(long offset, float[] dst, int dstOffset, int length) {
        checkRange(offset, length, dst.length, dstOffset);
        new FloatPointer(floats()).position(offset).get(dst, dstOffset, length);
    }

    /** Copies {@code length} int32 elements starting at element {@code offset} into {@code dst[dstOffset...]}. */
    public void read(long offset, int[] dst, int dstOffset, int length) {
        checkRange(offset, length, dst.length, dstOffset);
        new IntPointer(ints()).position(offset).get(dst, dstOffset, length);
    }

    /** Copies {@code src[srcOffset...srcOffset+length)} into the float32 elements starting at {@code offset}. */
    public void write(long offset, float[] src, int srcOffset, int length) {
        checkRange(offset, length, src.length, srcOffset);
        new FloatPointer(floats()).position(offset).put(src, srcOffset, length);
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
        if (dtype == DType.FLOAT32) {
            floats().zero();
        } else {
            ints().zero();
        }
    }

    /** Copies every element out (float32). */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(size)];
        floats().get(out);
        return out;
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
        new FloatPointer(floats()).position(r * shape[1]).get(out);
        return out;
    }

    /** A new tensor with rows {@code idx} of this rank >= 1 tensor (any dtype), in that order. */
    public Tensor gatherRows(int[] idx) {
        long rowLen = shape.length == 1 ? 1 : size / shape[0];
        long[] newShape = shape.clone();
        newShape[0] = idx.length;
        Tensor out = new Tensor(dtype, device, newShape);
        long bytes = rowLen * 4;
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
        Tensor out = new Tensor(dtype, device, shape);
        checkOpen();
        Pointer.memcpy(out.data, new Pointer(data), size * 4);
        return out;
    }

    public boolean isClosed() {
        return data == null;
    }

    /** Frees the native memory now. Idempotent. */
    @Override
    public void close() {
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
        return "Tensor" + Arrays.toString(shape) + " " + dtype + " on " + device;
    }
}
