package io.dense4j.bench.device;

/**
 * A buffer of float32 (or int32) elements in a device's memory, owned by the {@link DeviceOps} that made it.
 * Host implementations wrap a native pointer or a Java array; a CUDA implementation wraps a device pointer.
 */
public interface DeviceBuffer extends AutoCloseable {
    /** Number of elements. */
    long size();

    @Override
    void close();
}
