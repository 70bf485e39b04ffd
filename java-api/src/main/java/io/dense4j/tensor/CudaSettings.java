package io.dense4j.tensor;

import io.dense4j.internal.Cuda;
import io.dense4j.nativelib.CudaKernels;

/**
 * Process-wide settings of the CUDA kernels, read when each operation or training call starts (like PyTorch's
 * {@code torch.backends.cuda.matmul.allow_tf32}). Models moved with {@code Sequential.to(Device.cuda(n))} use
 * FP32 unless TF32 is chosen here. Changing a setting while another thread trains affects that training's next
 * native call (every call of 64 steps re-reads them).
 *
 * <pre>{@code
 * CudaSettings.precision(CudaSettings.Precision.TF32);   // tensor cores for every GEMM
 * CudaSettings.gemmVariant(CudaSettings.GemmVariant.SIMPLE); // the reference kernel, for comparisons
 * }</pre>
 *
 * Every method loads the CUDA library if needed and throws {@link UnsupportedOperationException} saying why when
 * it cannot be loaded; the settings themselves need no GPU.
 */
public final class CudaSettings {
    private CudaSettings() {}

    /** Precision of the GEMMs of the forward and both backward products. */
    public enum Precision {
        /** FP32 FMA on the CUDA cores (default). */
        FP32(CudaKernels.PRECISION_FP32),
        /** TF32 tensor cores (10-bit mantissa inputs, FP32 accumulation): faster, about 1e-3 relative error. */
        TF32(CudaKernels.PRECISION_TF32);

        final int code;

        Precision(int code) {
            this.code = code;
        }
    }

    /** The GEMM kernel variant (for benchmarks and comparisons; {@link #AUTO} is the fast default). */
    public enum GemmVariant {
        /** Fast tiled kernel, tile shape and split-K chosen from the problem size (default). */
        AUTO(CudaKernels.GEMM_AUTO),
        /** Reference kernel: one thread per output, no shared memory, always FP32. */
        SIMPLE(CudaKernels.GEMM_SIMPLE),
        /** Fast kernel forced to 128x128 tiles. */
        TILE_128(CudaKernels.GEMM_TILE_L),
        /** Fast kernel forced to 64x64 tiles. */
        TILE_64(CudaKernels.GEMM_TILE_M),
        /** Fast kernel forced to 32x32 tiles. */
        TILE_32(CudaKernels.GEMM_TILE_S);

        final int code;

        GemmVariant(int code) {
            this.code = code;
        }
    }

    public static void precision(Precision p) {
        Cuda.load();
        Cuda.check(CudaKernels.d4j_cuda_set_precision(p.code), "setting the precision");
    }

    public static Precision precision() {
        Cuda.load();
        int code = CudaKernels.d4j_cuda_get_precision();
        for (Precision p : Precision.values()) {
            if (p.code == code) {
                return p;
            }
        }
        throw new IllegalStateException("unknown precision code " + code);
    }

    public static void gemmVariant(GemmVariant v) {
        Cuda.load();
        Cuda.check(CudaKernels.d4j_cuda_set_gemm_variant(v.code), "setting the GEMM variant");
    }

    public static GemmVariant gemmVariant() {
        Cuda.load();
        int code = CudaKernels.d4j_cuda_get_gemm_variant();
        for (GemmVariant v : GemmVariant.values()) {
            if (v.code == code) {
                return v;
            }
        }
        throw new IllegalStateException("unknown GEMM variant code " + code);
    }
}
