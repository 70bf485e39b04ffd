package io.dense4j.bench.device;

import io.dense4j.nativelib.CudaKernels;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * The CUDA kernels (libdense4j_cuda) through their JavaCPP binding {@link CudaKernels}, on device 0.
 *
 * <p>Buffers are device allocations ({@code d4j_cuda_malloc}); Java never dereferences them (no get/put on a
 * device pointer: that would read GPU memory on the host and crash the JVM), data moves only through
 * {@code d4j_cuda_memcpy_*}. Single ops run asynchronously on the default stream and {@link #synchronize()} is
 * {@code d4j_cuda_synchronize}, so a timed invocation includes the kernels. Networks run on their own streams
 * and return once their work is done.
 *
 * <p>{@link #gemm} is Dense4J's own fastest GEMM ({@code d4j_cuda_gemm}, variant AUTO: tile shape and split-K
 * chosen from the problem size, FP32), not cuBLAS: there is no cuBLAS Java binding in the project. The cuBLAS
 * comparison on the same GPU is the table of native/scripts/gpu-check.sh (bench_cuda next to PyTorch torch.mm).
 */
public final class CudaOps implements DeviceOps {

    /** A device allocation of float32 or int32 elements, with typed views made once (no allocation per op). */
    static final class Buf implements DeviceBuffer {
        private Pointer p;
        final FloatPointer f;
        final IntPointer i;
        final long n;

        Buf(long n) {
            this.n = n;
            Pointer ptr = CudaKernels.d4j_cuda_malloc(Math.max(n, 1) * 4);
            if (ptr == null || ptr.isNull()) {
                throw new IllegalStateException("d4j_cuda_malloc of " + n * 4 + " bytes failed: " + CudaKernels.lastError());
            }
            this.p = ptr;
            // views share the address and own nothing: only close() frees the allocation
            this.f = new FloatPointer(ptr);
            this.i = new IntPointer(ptr);
        }

        Pointer ptr() {
            if (p == null) {
                throw new IllegalStateException("device buffer was freed");
            }
            return p;
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void close() {
            if (p != null) {
                CudaKernels.d4j_cuda_free(p);
                p = null;
            }
        }
    }

    private final double[] lossSum = new double[1];
    private final long[] correct = new long[1];
    private final float[] hp5 = new float[CudaKernels.OPT_HP_COUNT];
    private float[] lastHp;

    /** Opens device 0; callers check {@link CudaOpsProvider#unavailableReason()} first. */
    public CudaOps() {
        CudaKernels.load();
        check(CudaKernels.d4j_cuda_set_device(0), "d4j_cuda_set_device(0)");
        // the settings are process-wide: pin them so every run measures the same kernels (FP32, as the CPU and
        // OpenBLAS sgemm; AUTO is the fastest FP32 variant, the others exist for comparisons in bench_cuda)
        check(CudaKernels.d4j_cuda_set_precision(CudaKernels.PRECISION_FP32), "d4j_cuda_set_precision");
        check(CudaKernels.d4j_cuda_set_gemm_variant(CudaKernels.GEMM_AUTO), "d4j_cuda_set_gemm_variant");
    }

    /** Throws with the library's message (read at once: it is thread-local and overwritten by the next call). */
    static void check(int rc, String what) {
        if (rc != CudaKernels.OK) {
            throw new IllegalStateException(what + " returned " + rc + ": " + CudaKernels.lastError());
        }
    }

    private static Buf b(DeviceBuffer d) {
        return (Buf) d;
    }

    private static FloatPointer f(DeviceBuffer d) {
        return d == null ? null : b(d).f;
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String description() {
        byte[] name = new byte[256];
        long[] info = new long[CudaKernels.INFO_COUNT];
        if (CudaKernels.d4j_cuda_device_info(0, name, name.length, info) != CudaKernels.OK) {
            return "Dense4J CUDA kernels (libdense4j_cuda), device 0 (no info: " + CudaKernels.lastError() + ")";
        }
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        return String.format("Dense4J CUDA kernels (libdense4j_cuda), %s (cc %d.%d, %d SMs, %.0f GiB, driver %d), "
                        + "GEMM d4j_cuda_gemm AUTO FP32 (no cuBLAS binding)",
                new String(name, 0, len, StandardCharsets.UTF_8), info[CudaKernels.INFO_CC_MAJOR],
                info[CudaKernels.INFO_CC_MINOR], info[CudaKernels.INFO_SM_COUNT],
                info[CudaKernels.INFO_TOTAL_MEMORY] / (double) (1L << 30), info[CudaKernels.INFO_DRIVER_VERSION]);
    }

    /** Ignored: the GPU has no thread count to set. */
    @Override
    public void setThreads(int threads) {
    }

    @Override
    public DeviceBuffer upload(float[] values) {
        Buf d = new Buf(values.length);
        try (FloatPointer host = new FloatPointer(values)) {
            h2d(d, host, values.length * 4L);
        }
        return d;
    }

    @Override
    public DeviceBuffer uploadInts(int[] values) {
        Buf d = new Buf(values.length);
        try (IntPointer host = new IntPointer(values)) {
            h2d(d, host, values.length * 4L);
        }
        return d;
    }

    /**
     * Copies and waits: a copy from pageable memory may return before its DMA lands, and the networks run on
     * their own non-blocking streams, so a network could otherwise read a stale upload (as CudaEngine does).
     */
    private static void h2d(Buf d, Pointer host, long bytes) {
        check(CudaKernels.d4j_cuda_memcpy_h2d(d.ptr(), host, bytes), "d4j_cuda_memcpy_h2d");
        check(CudaKernels.d4j_cuda_synchronize(), "d4j_cuda_synchronize after an upload");
    }

    @Override
    public DeviceBuffer zeros(long n) {
        Buf d = new Buf(n);
        check(CudaKernels.d4j_cuda_memset(d.ptr(), 0, n * 4), "d4j_cuda_memset");
        check(CudaKernels.d4j_cuda_synchronize(), "d4j_cuda_synchronize after a memset"); // see h2d
        return d;
    }

    @Override
    public float[] download(DeviceBuffer d) {
        float[] a = new float[Math.toIntExact(d.size())];
        try (FloatPointer host = new FloatPointer(a.length)) {
            check(CudaKernels.d4j_cuda_memcpy_d2h(host, b(d).ptr(), a.length * 4L), "d4j_cuda_memcpy_d2h");
            host.get(a);
        }
        return a;
    }

    @Override
    public void synchronize() {
        check(CudaKernels.d4j_cuda_synchronize(), "d4j_cuda_synchronize");
    }

    @Override
    public void denseForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer bias, DeviceBuffer z, DeviceBuffer y,
                             int n, int in, int out, int act) {
        check(CudaKernels.d4j_cuda_dense_forward(f(x), f(w), f(bias), f(z), f(y), n, in, out, act),
                "d4j_cuda_dense_forward");
    }

    @Override
    public void denseBackward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer dz, DeviceBuffer dw, DeviceBuffer db,
                              DeviceBuffer dx, int n, int in, int out) {
        check(CudaKernels.d4j_cuda_dense_backward(f(x), f(w), f(dz), f(dw), f(db), f(dx), n, in, out),
                "d4j_cuda_dense_backward");
    }

    @Override
    public void activationBackward(DeviceBuffer z, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dz, int n, int k, int act) {
        check(CudaKernels.d4j_cuda_activation_backward(f(z), f(y), null, f(dy), f(dz), n, k, act),
                "d4j_cuda_activation_backward");
    }

    /** Synchronous in the library (it returns the loss sum to the host). */
    @Override
    public double softmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer labels, DeviceBuffer grad, int n, int k) {
        check(CudaKernels.d4j_cuda_loss(CudaKernels.LOSS_SPARSE_CCE, f(logits), b(labels).i, null, f(grad), null, n, k,
                1f, lossSum, correct), "d4j_cuda_loss");
        return lossSum[0];
    }

    @Override
    public void optimizerStep(int kind, float[] hp, float lr, long step, DeviceBuffer params, DeviceBuffer grads,
                              DeviceBuffer state, long n) {
        if (hp != lastHp) { // the library reads exactly 5 host floats; pad once, not per invocation
            Arrays.fill(hp5, 0f);
            System.arraycopy(hp, 0, hp5, 0, Math.min(hp.length, hp5.length));
            lastHp = hp;
        }
        check(CudaKernels.d4j_cuda_optimizer_step(kind, hp5, lr, step, f(params), f(grads), f(state), n),
                "d4j_cuda_optimizer_step");
    }

    /** Dense4J's d4j_cuda_gemm (AUTO, FP32): the library takes the same row-major layout as cblas_sgemm. */
    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, DeviceBuffer a, DeviceBuffer bb, DeviceBuffer c) {
        if (transA && transB) {
            throw new IllegalArgumentException("d4j_cuda_gemm does not take both operands transposed");
        }
        int lda = transA ? m : k;
        int ldb = transB ? k : n;
        check(CudaKernels.d4j_cuda_gemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, f(a), lda, f(bb), ldb, f(c), n),
                "d4j_cuda_gemm");
    }

    @Override
    public Net createNet(int[] sizes, int[] acts, int maxBatch, int optimizer, float[] hp, long seed) {
        return new CudaNet(sizes, acts, maxBatch, optimizer, hp, seed);
    }

    /** d4j_cuda_net over device-resident params / grads / state (the network borrows them; close frees them). */
    private final class CudaNet implements Net {
        final long count;
        final long[] step = new long[1];
        final double[] stats = new double[3];
        float[] lrs = new float[0];
        Buf params;
        Buf grads;
        Buf state;
        CudaKernels.d4j_cuda_net handle;

        CudaNet(int[] sizes, int[] acts, int maxBatch, int optimizer, float[] hpArr, long seed) {
            count = CudaKernels.d4j_cuda_param_count(acts.length, sizes);
            try {
                params = (Buf) upload(JavaOps.initParams(sizes, seed)); // same initial values as the cpu device
                grads = (Buf) zeros(count);
                state = (Buf) zeros(count * CudaKernels.OPT_STATE_PER_PARAM);
                float[] hp = Arrays.copyOf(hpArr, CudaKernels.OPT_HP_COUNT);
                handle = CudaKernels.d4j_cuda_net_create(acts.length, sizes, acts, new float[acts.length],
                        CudaKernels.LOSS_SPARSE_CCE, maxBatch, params.f, grads.f, optimizer, hp, state.f, 0f, 0f);
                if (handle == null || handle.isNull()) {
                    handle = null;
                    throw new IllegalStateException("d4j_cuda_net_create failed: " + CudaKernels.lastError());
                }
            } catch (RuntimeException e) {
                freeBuffers();
                throw e;
            }
        }

        @Override
        public double train(DeviceBuffer x, DeviceBuffer labels, DeviceBuffer order, long nOrder, long first, int batch,
                            int nBatches, float lr) {
            if (lrs.length != nBatches || (nBatches > 0 && lrs[0] != lr)) { // kept across invocations
                lrs = new float[nBatches];
                Arrays.fill(lrs, lr);
            }
            Arrays.fill(stats, 0); // the library accumulates
            check(CudaKernels.d4j_cuda_net_train(handle, b(x).ptr(), CudaKernels.DATA_F32, 1f, b(labels).i, null,
                    b(order).i, nOrder, first, batch, nBatches, lrs, step, 42L, stats), "d4j_cuda_net_train");
            return stats[0];
        }

        @Override
        public void forward(DeviceBuffer x, long n, DeviceBuffer out) {
            check(CudaKernels.d4j_cuda_net_forward(handle, b(x).ptr(), CudaKernels.DATA_F32, 1f, n, f(out), null, null,
                    stats), "d4j_cuda_net_forward");
        }

        @Override
        public long parameterCount() {
            return count;
        }

        @Override
        public void close() {
            if (handle != null) {
                CudaKernels.d4j_cuda_net_destroy(handle);
                handle = null;
                freeBuffers();
            }
        }

        private void freeBuffers() {
            for (Buf d : new Buf[] {params, grads, state}) {
                if (d != null) {
                    d.close();
                }
            }
        }
    }

    @Override
    public void close() {
        // buffers belong to their callers; nothing device-wide is held here
    }
}
