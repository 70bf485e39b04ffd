package io.dense4j.nativelib;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Opaque;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;

/**
 * JNI binding of native/include/dense4j.h (the CPU kernels, libdense4j_cpu). Hand-written rather than
 * parsed, so the build needs no header parser. See the header for semantics.
 *
 * <p>libdense4j_cpu needs nothing but the C and C++ runtimes: every product is our own kernel (no BLAS library), so
 * Loader loads only our library and its JNI glue.
 */
@Properties(value = @Platform(include = "dense4j.h", link = "dense4j_cpu"))
public final class CpuKernels {
    /** Threads used unless the system property dense4j.threads says otherwise. */
    public static final int DEFAULT_THREADS = 1;

    static {
        PointerFirst.initialize();
        Loader.load();
        // Threads of our own pool, which runs every kernel. Any count is safe: the pool never uses more
        // threads than cores and runs serially while another process holds them (see d4j_set_num_threads).
        d4j_set_num_threads(Integer.getInteger("dense4j.threads", DEFAULT_THREADS));
    }

    private CpuKernels() {}

    public static final int ACT_LINEAR = 0, ACT_RELU = 1, ACT_SIGMOID = 2, ACT_TANH = 3, ACT_GELU = 4, ACT_SOFTMAX = 5;
    public static final int LOSS_SPARSE_CCE = 0, LOSS_CCE = 1, LOSS_BCE = 2, LOSS_MSE = 3;
    public static final int OPT_SGD = 0, OPT_ADAM = 1, OPT_ADAMW = 2, OPT_RMSPROP = 3;
    public static final int OPT_HP_COUNT = 5, OPT_STATE_PER_PARAM = 3;
    public static final int OK = 0, ERR_ARGUMENT = 1, ERR_NONFINITE = 2, ERR_MEMORY = 3;
    /** Formats of the rows of d4j_net_train_data / d4j_net_forward_data: float32, or uint8 standing for b / divisor. */
    public static final int DATA_F32 = 0, DATA_U8 = 1;
    /** GEMM kernel variants (d4j_set_isa); the environment variable D4J_CPU_ISA chooses one at load. */
    public static final int ISA_AUTO = -1, ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2;

    /** Opaque handle of a native network (d4j_net*). */
    @Opaque
    public static final class d4j_net extends Pointer {
        public d4j_net() { super((Pointer) null); }
        public d4j_net(Pointer p) { super(p); }
    }

    /** Forces the native libraries to load (and fails with their loader error when they cannot). */
    public static void load() {}

    public static native void d4j_set_num_threads(int n);
    public static native int d4j_get_num_threads();
    public static native void d4j_thread_stats(@Cast("int64_t*") LongPointer out);
    public static native void d4j_set_caller_threads(int n);
    public static native int d4j_get_caller_threads();

    public static native int d4j_set_isa(int isa);
    public static native int d4j_get_isa();
    public static native int d4j_isa_supported(int isa);

    public static native void d4j_dense_forward(@Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer b,
            FloatPointer z, FloatPointer y, int n, int in, int out, int act);

    public static native void d4j_activation_backward(@Const FloatPointer z, @Const FloatPointer y,
            @Const FloatPointer mask, @Const FloatPointer dy, FloatPointer dz, int n, int k, int act);

    public static native void d4j_dense_backward(@Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer dz,
            FloatPointer dw, FloatPointer db, FloatPointer dx, int n, int in, int out);

    public static native double d4j_loss(int loss, @Const FloatPointer out, @Cast("const int32_t*") IntPointer labels,
            @Const FloatPointer targets, FloatPointer grad, FloatPointer probs, int n, int k, float gradScale,
            @Cast("int64_t*") LongPointer correct);

    public static native float d4j_clip_gradients(FloatPointer grads, @Cast("int64_t") long n, float maxNorm,
            float clipValue);

    public static native void d4j_optimizer_step(int kind, @Const FloatPointer hp, float lr, @Cast("int64_t") long step,
            FloatPointer params, @Const FloatPointer grads, FloatPointer state, @Cast("int64_t") long n);

    public static native d4j_net d4j_net_create(int nLayers, @Cast("const int32_t*") IntPointer sizes,
            @Cast("const int32_t*") IntPointer acts, @Const FloatPointer dropout, int loss, int maxBatch,
            FloatPointer params, FloatPointer grads, int optimizer, @Const FloatPointer optHp, FloatPointer optState,
            float clipNorm, float clipValue);

    public static native void d4j_net_destroy(d4j_net net);

    public static native @Cast("int64_t") long d4j_opt_state_stride(@Cast("int64_t") long nParams);

    public static native int d4j_net_set_opt_stride(d4j_net net, @Cast("int64_t") long stride);

    public static native @Cast("int64_t") long d4j_param_count(int nLayers, @Cast("const int32_t*") IntPointer sizes);

    public static native int d4j_net_train(d4j_net net, @Const FloatPointer x, @Cast("const int32_t*") IntPointer labels,
            @Const FloatPointer targets, @Cast("const int32_t*") IntPointer order, @Cast("int64_t") long nOrder,
            @Cast("int64_t") long first, int batch, int nBatches, @Const FloatPointer lrs,
            @Cast("int64_t*") LongPointer step, @Cast("uint64_t") long seed, DoublePointer stats);

    public static native int d4j_net_forward(d4j_net net, @Const FloatPointer x, @Cast("int64_t") long n,
            FloatPointer out, @Cast("const int32_t*") IntPointer labels, @Const FloatPointer targets,
            DoublePointer stats);

    /** d4j_net_train over uint8 rows (DATA_U8): byte b stands for b / xDivisor, converted while gathered. */
    public static native int d4j_net_train_data(d4j_net net, @Cast("const void*") BytePointer x, int xType,
            float xDivisor, @Cast("const int32_t*") IntPointer labels, @Const FloatPointer targets,
            @Cast("const int32_t*") IntPointer order, @Cast("int64_t") long nOrder, @Cast("int64_t") long first,
            int batch, int nBatches, @Const FloatPointer lrs, @Cast("int64_t*") LongPointer step,
            @Cast("uint64_t") long seed, DoublePointer stats);

    /** d4j_net_forward over uint8 rows (DATA_U8). */
    public static native int d4j_net_forward_data(d4j_net net, @Cast("const void*") BytePointer x, int xType,
            float xDivisor, @Cast("int64_t") long n, FloatPointer out, @Cast("const int32_t*") IntPointer labels,
            @Const FloatPointer targets, DoublePointer stats);

    /** out[r, :] = data[order[r], :] / divisor for uint8 rows of width bytes (order null: row r). */
    public static native int d4j_gather_u8(@Cast("const uint8_t*") BytePointer data, float divisor, int width,
            @Cast("const int32_t*") IntPointer order, int rows, FloatPointer out);

    /**
     * Zero-filled memory for large buffers, 2 MB aligned and advised for 2 MB pages (see d4j_alloc_pages); a null
     * pointer (address 0) when it cannot be had. It has no deallocator: the caller frees it exactly once with
     * {@link #d4j_free_pages} and the same byte count (io.dense4j.tensor does, on close or collection).
     */
    public static native Pointer d4j_alloc_pages(@Cast("size_t") long bytes);

    public static native void d4j_free_pages(Pointer p, @Cast("size_t") long bytes);
}
