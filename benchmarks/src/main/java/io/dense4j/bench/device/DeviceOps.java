package io.dense4j.bench.device;

/**
 * The operations the benchmarks time, on one device. Buffers live on the device; every call may be
 * asynchronous and {@link #synchronize()} waits for all of them (benchmarks call it at the end of each
 * invocation, so GPU timings include the kernels, not only their launch).
 *
 * <p>Layouts are those of native/include/dense4j.h: row-major float32, a Dense layer's kernel is
 * W [in, out] with y = x.W + b, one contiguous parameter buffer W0, b0, W1, b1, ...
 *
 * <p>Implementations: {@link CpuOps} (the native CPU kernels, OpenBLAS as the vendor GEMM), {@link JavaOps}
 * (plain Java loops, the baseline), and any {@link DeviceOpsProvider} found on the class path (CUDA).
 */
public interface DeviceOps extends AutoCloseable {
    /** CBLAS-style transpose flags for {@link #gemm}. */
    boolean NO_TRANS = false;
    boolean TRANS = true;

    String name();

    /** A human-readable description (library, device model) for reports. */
    String description();

    /** Sets the device's thread count where that means something (CPU: OpenBLAS threads); otherwise ignored. */
    void setThreads(int threads);

    DeviceBuffer upload(float[] values);

    DeviceBuffer uploadInts(int[] values);

    /** A zero-filled float buffer. */
    DeviceBuffer zeros(long n);

    float[] download(DeviceBuffer b);

    /** Waits until every operation issued so far has finished (no-op on the host). */
    void synchronize();

    /** z = x.W + b, y = act(z) (d4j_dense_forward); z may be null. */
    void denseForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer b, DeviceBuffer z, DeviceBuffer y,
                      int n, int in, int out, int act);

    /** dW = x^T.dz, db = column sums of dz, dx = dz.W^T when dx != null (d4j_dense_backward). */
    void denseBackward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer dz, DeviceBuffer dw, DeviceBuffer db,
                       DeviceBuffer dx, int n, int in, int out);

    /** dz = dy (.) act'(z or y) (d4j_activation_backward, no dropout mask). */
    void activationBackward(DeviceBuffer z, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dz, int n, int k, int act);

    /** Fused softmax + sparse categorical cross-entropy on logits [n,k]: writes grad, returns the loss sum. */
    double softmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer labels, DeviceBuffer grad, int n, int k);

    /** One optimizer update over n parameters (d4j_optimizer_step; state holds 3n floats). */
    void optimizerStep(int kind, float[] hp, float lr, long step, DeviceBuffer params, DeviceBuffer grads,
                       DeviceBuffer state, long n);

    /**
     * The plain GEMM the fused ops are compared with (OpenBLAS cblas_sgemm on the CPU; on cuda Dense4J's own
     * d4j_cuda_gemm, since there is no cuBLAS binding (see the package documentation); plain loops for the Java
     * baseline): row-major C[m,n] = op(A)[m,k] . op(B)[k,n].
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c);

    /**
     * A whole network (d4j_net): sparse categorical cross-entropy, the given optimizer, training batches of at
     * most maxBatch rows. params / grads / state are created and owned by the network.
     */
    Net createNet(int[] sizes, int[] acts, int maxBatch, int optimizer, float[] hp, long seed);

    /** A network made by {@link #createNet}. */
    interface Net extends AutoCloseable {
        /**
         * nBatches training steps in one call (d4j_net_train) over rows order[first ...] of x [N, in] / labels [N].
         * Returns the loss sum of these steps.
         */
        double train(DeviceBuffer x, DeviceBuffer labels, DeviceBuffer order, long nOrder, long first, int batch,
                     int nBatches, float lr);

        /** Inference over n rows (d4j_net_forward) into out [n, outputs]. */
        void forward(DeviceBuffer x, long n, DeviceBuffer out);

        long parameterCount();

        @Override
        void close();
    }

    @Override
    void close();
}
