package io.dense4j.internal;

import io.dense4j.nativelib.CudaKernels;
import java.nio.charset.StandardCharsets;
import org.bytedeco.javacpp.Pointer;

/**
 * The one place where Java touches the CUDA runtime of our kernel library outside the CUDA backend: lazy loading,
 * device queries, device selection, return-code translation and device allocations.
 *
 * <p>The binding ({@link CudaKernels}, libdense4j_cuda) is loaded only when CUDA is first asked for, so a
 * CPU-only program never loads it. Any loading failure and {@code ERR_NO_DEVICE} become an
 * {@link UnsupportedOperationException} whose message says why (the library's own text where it has one).
 * Internal (not exported): applications use {@code Device} and {@code Sequential.to}.
 */
public final class Cuda {
    private static final Object LOAD_LOCK = new Object();
    private static volatile boolean loaded;
    private static volatile String loadFailure; // remembered: a failed native load cannot be retried anyway

    private Cuda() {}

    /** What {@code d4j_cuda_device_info} reports about one GPU. */
    public record DeviceInfo(int index, String name, long totalMemory, long freeMemory, int ccMajor, int ccMinor,
                             int multiprocessors, int driverVersion) {}

    /**
     * Loads the CUDA binding if it is not loaded yet.
     *
     * @throws UnsupportedOperationException saying why when the library or its JNI glue cannot be loaded
     */
    public static void load() {
        if (loaded) {
            return;
        }
        synchronized (LOAD_LOCK) {
            if (loaded) {
                return;
            }
            if (loadFailure != null) {
                throw new UnsupportedOperationException(loadFailure);
            }
            try {
                CudaKernels.load();
                loaded = true;
            } catch (LinkageError | RuntimeException e) {
                // UnsatisfiedLinkError, ExceptionInInitializerError, NoClassDefFoundError (a second attempt)...
                loadFailure = "CUDA is not available: the CUDA kernel library (libdense4j_cuda) could not be loaded: "
                        + (e.getMessage() == null ? e.getClass().getName() : e.getMessage());
                throw new UnsupportedOperationException(loadFailure, e);
            }
        }
    }

    /**
     * Number of CUDA devices.
     *
     * @throws UnsupportedOperationException with the driver's reason when there is no usable device or driver
     */
    public static int deviceCount() {
        load();
        int[] count = new int[1];
        int rc = CudaKernels.d4j_cuda_device_count(count);
        check(rc, "counting CUDA devices");
        if (count[0] <= 0) {
            throw new UnsupportedOperationException("CUDA is not available: no CUDA device found");
        }
        return count[0];
    }

    /** Name, memory and compute capability of device {@code index} (free memory as of now). */
    public static DeviceInfo info(int index) {
        load();
        byte[] name = new byte[256];
        long[] info = new long[CudaKernels.INFO_COUNT];
        check(CudaKernels.d4j_cuda_device_info(index, name, name.length, info), "querying cuda:" + index);
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        return new DeviceInfo(index, new String(name, 0, len, StandardCharsets.UTF_8),
                info[CudaKernels.INFO_TOTAL_MEMORY], info[CudaKernels.INFO_FREE_MEMORY],
                (int) info[CudaKernels.INFO_CC_MAJOR], (int) info[CudaKernels.INFO_CC_MINOR],
                (int) info[CudaKernels.INFO_SM_COUNT], (int) info[CudaKernels.INFO_DRIVER_VERSION]);
    }

    /**
     * Makes {@code index} the current device of the calling thread. The native library keeps the current
     * device per thread, so every entry point that may run on a new thread (predict from a server's workers)
     * selects its device first; the call is cheap.
     */
    public static void select(int index) {
        check(CudaKernels.d4j_cuda_set_device(index), "selecting cuda:" + index);
    }

    /**
     * Translates a return code of the CUDA library into the exception the CPU backend would throw for the same
     * condition, with the library's message (read at once: it is thread-local and overwritten by the next call).
     * {@code ERR_NONFINITE} is the training calls' business: they turn it into a NonFiniteLossException before
     * calling this.
     */
    public static void check(int rc, String what) {
        if (rc == CudaKernels.OK) {
            return;
        }
        String msg = CudaKernels.lastError();
        String detail = msg.isEmpty() ? "" : ": " + msg;
        switch (rc) {
            case CudaKernels.ERR_NONFINITE -> throw new ArithmeticException("non-finite values during " + what + detail);
            case CudaKernels.ERR_ARGUMENT -> throw new IllegalArgumentException(
                    "CUDA kernels rejected the arguments of " + what + detail);
            case CudaKernels.ERR_NO_DEVICE -> throw new UnsupportedOperationException(
                    "CUDA is not available" + (msg.isEmpty() ? ": no usable CUDA device or driver" : ": " + msg));
            case CudaKernels.ERR_MEMORY -> throw new CudaException(rc, "out of GPU memory during " + what + detail);
            default -> throw new CudaException(rc, "CUDA error during " + what + detail);
        }
    }

    /** A failure of the CUDA runtime (an allocation that did not fit, a kernel launch error...). */
    public static final class CudaException extends IllegalStateException {
        private final int code;

        CudaException(int code, String message) {
            super(message);
            this.code = code;
        }

        /** The library's return code ({@code CudaKernels.ERR_*}). */
        public int code() {
            return code;
        }
    }

    /**
     * One device allocation. The pointer is opaque to Java: it is only ever passed back to the library
     * (never {@code get}/{@code put}, which would dereference GPU memory on the host).
     */
    public static final class Buffer implements AutoCloseable {
        public final long bytes;
        private Pointer ptr;

        public Buffer(long bytes, String what) {
            this.bytes = bytes;
            Pointer p = CudaKernels.d4j_cuda_malloc(Math.max(bytes, 4));
            if (p == null || p.isNull()) {
                check(CudaKernels.ERR_MEMORY, "allocating " + bytes + " bytes for " + what);
            }
            this.ptr = p;
        }

        /** The base pointer (position 0); views are made with {@link #at}, {@link #floats}, {@link #ints}. */
        public Pointer ptr() {
            if (ptr == null) {
                throw new IllegalStateException("device buffer was freed");
            }
            return ptr;
        }

        /**
         * An untyped view {@code byteOffset} bytes in, for the {@code void*} parameters (JavaCPP applies the
         * position of a {@code void*} argument in bytes).
         */
        public Pointer at(long byteOffset) {
            return new Pointer(ptr()).position(byteOffset);
        }

        /** A {@code float*} view starting at element {@code offset}. */
        public org.bytedeco.javacpp.FloatPointer floats(long offset) {
            return new org.bytedeco.javacpp.FloatPointer(ptr()).position(offset);
        }

        /** An {@code int32_t*} view starting at element {@code offset}. */
        public org.bytedeco.javacpp.IntPointer ints(long offset) {
            return new org.bytedeco.javacpp.IntPointer(ptr()).position(offset);
        }

        @Override
        public void close() {
            if (ptr != null) {
                CudaKernels.d4j_cuda_free(ptr);
                ptr = null;
            }
        }
    }
}
