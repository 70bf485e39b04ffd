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
 * JNI binding of native/include/dense4j_cuda.h (the CUDA kernels, libdense4j_cuda). Hand-written, and
 * independent of the CPU binding. The library links the CUDA runtime statically, so it loads on
 * machines without a GPU or driver; every call then returns {@link #ERR_NO_DEVICE} with a message in
 * {@link #lastError()}. A build without a CUDA compiler links this binding against a placeholder library of the
 * same name ({@link #d4j_cuda_built_with_cuda} returns 0) that answers every CUDA call so, saying "this build has no
 * CUDA library".
 *
 * <p>Tensor arguments are DEVICE pointers: obtain them from {@link #d4j_cuda_malloc} (wrap the result in
 * {@code new FloatPointer(p)} etc.) and never call {@code get}/{@code put} on them (that would dereference GPU
 * memory on the host and crash the JVM); move data with the {@code d4j_cuda_memcpy_*} functions. Host arguments
 * (sizes, acts, dropout, hyperparameters, learning rates, step, stats, query outputs) are ordinary JavaCPP
 * pointers or arrays. See the header for the semantics of every function.
 */
@Properties(value = @Platform(include = "dense4j_cuda.h", link = "dense4j_cuda"))
public final class CudaKernels {
    static {
        PointerFirst.initialize();
        Loader.load();
    }

    private CudaKernels() {}

    public static final int ACT_LINEAR = 0, ACT_RELU = 1, ACT_SIGMOID = 2, ACT_TANH = 3, ACT_GELU = 4, ACT_SOFTMAX = 5;
    public static final int LOSS_SPARSE_CCE = 0, LOSS_CCE = 1, LOSS_BCE = 2, LOSS_MSE = 3;
    public static final int OPT_SGD = 0, OPT_ADAM = 1, OPT_ADAMW = 2, OPT_RMSPROP = 3;
    public static final int OPT_HP_COUNT = 5, OPT_STATE_PER_PARAM = 3;
    public static final int OK = 0, ERR_ARGUMENT = 1, ERR_NONFINITE = 2, ERR_MEMORY = 3, ERR_NO_DEVICE = 4, ERR_CUDA = 5;
    public static final int PRECISION_FP32 = 0, PRECISION_TF32 = 1;
    public static final int GEMM_AUTO = 0, GEMM_SIMPLE = 1, GEMM_TILE_L = 2, GEMM_TILE_M = 3, GEMM_TILE_S = 4;
    public static final int DATA_F32 = 0, DATA_U8 = 1;
    /** Indices into the int64[6] of {@link #d4j_cuda_device_info}. */
    public static final int INFO_TOTAL_MEMORY = 0, INFO_FREE_MEMORY = 1, INFO_CC_MAJOR = 2, INFO_CC_MINOR = 3,
            INFO_SM_COUNT = 4, INFO_DRIVER_VERSION = 5, INFO_COUNT = 6;

    /** Opaque handle of a native network (d4j_cuda_net*). */
    @Opaque
    public static final class d4j_cuda_net extends Pointer {
        public d4j_cuda_net() { super((Pointer) null); }
        public d4j_cuda_net(Pointer p) { super(p); }
    }

    /** Forces the native libraries to load (and fails with their loader error when they cannot). */
    public static void load() {}

    /** Message of the last failed call on this thread, "" if none. */
    public static String lastError() {
        BytePointer p = d4j_cuda_last_error();
        return p == null || p.isNull() ? "" : p.getString();
    }

    // ---- errors, devices, settings
    public static native @Cast("const char*") BytePointer d4j_cuda_last_error();
    /**
     * 1 for the library compiled with nvcc; 0 for the placeholder that a build without a CUDA compiler produces,
     * whose every CUDA call returns {@link #ERR_NO_DEVICE} with a message starting "this build has no CUDA library".
     */
    public static native int d4j_cuda_built_with_cuda();
    public static native int d4j_cuda_device_count(IntPointer count);
    public static native int d4j_cuda_device_count(int[] count);
    public static native int d4j_cuda_device_info(int device, @Cast("char*") BytePointer name, int nameCapacity,
            @Cast("int64_t*") LongPointer info);
    public static native int d4j_cuda_device_info(int device, @Cast("char*") byte[] name, int nameCapacity,
            @Cast("int64_t*") long[] info);
    public static native int d4j_cuda_set_device(int device);
    public static native int d4j_cuda_get_device(int[] device);
    public static native int d4j_cuda_set_precision(int precision);
    public static native int d4j_cuda_get_precision();
    public static native int d4j_cuda_set_gemm_variant(int variant);
    public static native int d4j_cuda_get_gemm_variant();

    // ---- memory (device pointers are opaque to Java)
    public static native Pointer d4j_cuda_malloc(@Cast("int64_t") long bytes);
    public static native int d4j_cuda_free(Pointer devicePtr);
    public static native int d4j_cuda_memcpy_h2d(Pointer deviceDst, @Const Pointer hostSrc, @Cast("int64_t") long bytes);
    public static native int d4j_cuda_memcpy_d2h(Pointer hostDst, @Const Pointer deviceSrc, @Cast("int64_t") long bytes);
    public static native int d4j_cuda_memcpy_d2d(Pointer deviceDst, @Const Pointer deviceSrc, @Cast("int64_t") long bytes);
    public static native int d4j_cuda_memset(Pointer devicePtr, int value, @Cast("int64_t") long bytes);
    public static native int d4j_cuda_synchronize();

    // ---- single ops (device pointers)
    public static native int d4j_cuda_gemm(int transA, int transB, int m, int n, int k, @Const FloatPointer a, int lda,
            @Const FloatPointer b, int ldb, FloatPointer c, int ldc);
    public static native int d4j_cuda_dense_forward(@Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer b,
            FloatPointer z, FloatPointer y, int n, int in, int out, int act);
    public static native int d4j_cuda_activation_backward(@Const FloatPointer z, @Const FloatPointer y,
            @Const FloatPointer mask, @Const FloatPointer dy, FloatPointer dz, int n, int k, int act);
    public static native int d4j_cuda_dense_backward(@Const FloatPointer x, @Const FloatPointer w,
            @Const FloatPointer dz, FloatPointer dw, FloatPointer db, FloatPointer dx, int n, int in, int out);
    /** lossSum (host double[1]) and correct (host long[1], may be null) are outputs. */
    public static native int d4j_cuda_loss(int loss, @Const FloatPointer out, @Cast("const int32_t*") IntPointer labels,
            @Const FloatPointer targets, FloatPointer grad, FloatPointer probs, int n, int k, float gradScale,
            double[] lossSum, @Cast("int64_t*") long[] correct);
    public static native int d4j_cuda_clip_gradients(FloatPointer grads, @Cast("int64_t") long n, float maxNorm,
            float clipValue, float[] norm);
    /** hp is a host float[5]. */
    public static native int d4j_cuda_optimizer_step(int kind, @Const float[] hp, float lr, @Cast("int64_t") long step,
            FloatPointer params, @Const FloatPointer grads, FloatPointer state, @Cast("int64_t") long n);
    public static native int d4j_cuda_gather_u8(@Cast("const uint8_t*") BytePointer data, float scale, int width,
            @Cast("const int32_t*") IntPointer order, @Cast("int64_t") long first, int rows, FloatPointer out);
    public static native int d4j_cuda_gather_f32(@Const FloatPointer data, float scale, int width,
            @Cast("const int32_t*") IntPointer order, @Cast("int64_t") long first, int rows, FloatPointer out);
    public static native int d4j_cuda_permutation(@Cast("int32_t*") IntPointer order, @Cast("int64_t") long n,
            @Cast("uint64_t") long seed);
    public static native int d4j_cuda_dropout_mask(FloatPointer mask, int rows, int width, float rate,
            @Cast("uint64_t") long seed, @Cast("int64_t") long step, int layer);

    // ---- whole network (sizes, acts, dropout, optHp, lrs, step, stats on the host; the rest on the device)
    public static native d4j_cuda_net d4j_cuda_net_create(int nLayers, @Cast("const int32_t*") int[] sizes,
            @Cast("const int32_t*") int[] acts, @Const float[] dropout, int loss, int maxBatch, FloatPointer params,
            FloatPointer grads, int optimizer, @Const float[] optHp, FloatPointer optState, float clipNorm,
            float clipValue);
    public static native void d4j_cuda_net_destroy(d4j_cuda_net net);
    public static native @Cast("int64_t") long d4j_cuda_param_count(int nLayers, @Cast("const int32_t*") int[] sizes);
    /** x: device data set (DATA_U8 or DATA_F32); labels / targets / order device arrays (order may be null). */
    public static native int d4j_cuda_net_train(d4j_cuda_net net, @Const Pointer x, int xType, float xScale,
            @Cast("const int32_t*") IntPointer labels, @Const FloatPointer targets,
            @Cast("const int32_t*") IntPointer order, @Cast("int64_t") long nOrder, @Cast("int64_t") long first,
            int batch, int nBatches, @Const float[] lrs, @Cast("int64_t*") long[] step, @Cast("uint64_t") long seed,
            double[] stats);
    public static native int d4j_cuda_net_forward(d4j_cuda_net net, @Const Pointer x, int xType, float xScale,
            @Cast("int64_t") long n, FloatPointer out, @Cast("const int32_t*") IntPointer labels,
            @Const FloatPointer targets, double[] stats);
}
