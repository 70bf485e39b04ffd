package io.dense4j.bench.device;

import io.dense4j.nativelib.CudaKernels;

/** The {@code cuda} device ({@link CudaOps}), found by {@link Devices} through META-INF/services. */
public final class CudaOpsProvider implements DeviceOpsProvider {

    @Override
    public String device() {
        return "cuda";
    }

    /**
     * Null when a CUDA device is visible; otherwise the loading error of the binding, or the library's own
     * reason (d4j_cuda_last_error after d4j_cuda_device_count, e.g. "insufficient driver" without a driver).
     */
    @Override
    public String unavailableReason() {
        try {
            CudaKernels.load();
        } catch (Throwable t) { // UnsatisfiedLinkError, ExceptionInInitializerError, NoClassDefFoundError...
            return "the CUDA kernel library (libdense4j_cuda) could not be loaded: " + t;
        }
        int[] count = new int[1];
        int rc = CudaKernels.d4j_cuda_device_count(count);
        if (rc != CudaKernels.OK) {
            String msg = CudaKernels.lastError();
            return "d4j_cuda_device_count returned " + rc + (rc == CudaKernels.ERR_NO_DEVICE ? " (ERR_NO_DEVICE)" : "")
                    + (msg.isEmpty() ? " (no usable CUDA device or driver)" : ": " + msg);
        }
        if (count[0] <= 0) {
            return "no CUDA device (d4j_cuda_device_count = 0)";
        }
        return null;
    }

    @Override
    public DeviceOps open() {
        return new CudaOps();
    }
}
