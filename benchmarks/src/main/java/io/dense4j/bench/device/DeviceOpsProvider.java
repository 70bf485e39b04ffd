package io.dense4j.bench.device;

/**
 * Plugs a device into the benchmarks through {@link java.util.ServiceLoader}: list the implementing class in
 * {@code META-INF/services/io.dense4j.bench.device.DeviceOpsProvider}. The CPU and plain-Java devices are
 * built in; the CUDA engineer adds a provider whose {@link #device()} is {@code "cuda"}.
 */
public interface DeviceOpsProvider {
    /** The value of the benchmarks' {@code device} parameter this provider serves, e.g. "cuda". */
    String device();

    /** Null when {@link #open()} will work here; otherwise why not (e.g. "no CUDA device: cudaGetDeviceCount = 0"). */
    String unavailableReason();

    DeviceOps open();
}
