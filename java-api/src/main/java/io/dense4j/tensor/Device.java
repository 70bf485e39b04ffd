package io.dense4j.tensor;

import io.dense4j.internal.Cuda;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Where a model's parameters live and its kernels run: {@link #cpu()} always exists; {@link #cuda(int)} is a GPU
 * driven by our CUDA kernel library (libdense4j_cuda, loaded only when CUDA is first asked for).
 *
 * <pre>{@code
 * try (var gpu = Device.cuda(0)) {   // UnsupportedOperationException saying why when there is no usable GPU
 *     model.to(gpu);
 *     model.fit(train, Fit.epochs(5).batchSize(32));
 * }
 * Device.available().forEach(d -> System.out.println(d.description()));
 * }</pre>
 *
 * <p>A device is a value: two {@code Device} objects for the same place are equal. GEMM precision (FP32 by
 * default, or TF32 tensor cores) is a process-wide setting of the CUDA library: see {@link CudaSettings}.
 */
public final class Device implements AutoCloseable {
    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0, null);

    private final Kind kind;
    private final int index;
    private final Cuda.DeviceInfo info; // null for the CPU

    private Device(Kind kind, int index, Cuda.DeviceInfo info) {
        this.kind = kind;
        this.index = index;
        this.info = info;
    }

    public static Device cpu() {
        return CPU;
    }

    /**
     * Parses {@code cpu}, {@code cuda} or {@code cuda:N}, as the command line takes it. A CUDA device is
     * checked at once, as {@link #cuda(int)} does.
     *
     * @throws IllegalArgumentException for any other text
     * @throws UnsupportedOperationException saying why when the CUDA device cannot be used here
     */
    public static Device parse(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("cpu")) {
            return CPU;
        }
        if (s.equals("cuda") || s.startsWith("cuda:")) {
            int idx = 0;
            if (s.startsWith("cuda:")) {
                try {
                    idx = Integer.parseInt(s.substring(5));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("bad device '" + spec + "': expected cpu, cuda or cuda:N");
                }
                if (idx < 0) {
                    throw new IllegalArgumentException("bad device '" + spec + "': the CUDA index must be >= 0");
                }
            }
            return cuda(idx);
        }
        throw new IllegalArgumentException("unknown device '" + spec + "': expected cpu, cuda or cuda:N");
    }

    /**
     * The CUDA device {@code index}, after checking that it exists and can be used (driver, device, library).
     *
     * @throws UnsupportedOperationException saying why when no such CUDA device can be used here (no driver, no
     *         device, index out of range, library missing); the message includes the CUDA library's own reason
     */
    public static Device cuda(int index) {
        if (index < 0) {
            throw new IllegalArgumentException("CUDA device index " + index + " is negative");
        }
        String what = "CUDA device cuda:" + index + " is not available: ";
        int count;
        try {
            count = Cuda.deviceCount();
        } catch (UnsupportedOperationException e) {
            // "CUDA device cuda:0 is not available: <the library's reason>", without repeating "CUDA is not available"
            String why = e.getMessage() == null ? "no usable CUDA device or driver"
                    : e.getMessage().replaceFirst("^CUDA is not available: ", "");
            throw new UnsupportedOperationException(what + why, e);
        }
        if (index >= count) {
            throw new UnsupportedOperationException(what + "this machine has " + count + " CUDA device"
                    + (count == 1 ? " (cuda:0)" : "s (cuda:0 to cuda:" + (count - 1) + ")"));
        }
        return new Device(Kind.CUDA, index, Cuda.info(index));
    }

    /**
     * Every device usable in this process: the CPU first, then each GPU (with its name, memory and compute
     * capability, see {@link #description()}). Never fails: without a usable GPU the list is just the CPU.
     */
    public static List<Device> available() {
        List<Device> list = new ArrayList<>();
        list.add(CPU);
        try {
            int count = Cuda.deviceCount();
            for (int i = 0; i < count; i++) {
                list.add(new Device(Kind.CUDA, i, Cuda.info(i)));
            }
        } catch (RuntimeException e) {
            // no driver, no device or no library: the CPU is what there is (Device.cuda(n) says why)
        }
        return List.copyOf(list);
    }

    public Kind kind() {
        return kind;
    }

    public int index() {
        return index;
    }

    public boolean isCpu() {
        return kind == Kind.CPU;
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    /** The GPU's name (e.g. "NVIDIA H200"), or "cpu". */
    public String name() {
        return info == null ? "cpu" : info.name();
    }

    /** Total GPU memory in bytes (0 for the CPU). */
    public long totalMemory() {
        return info == null ? 0 : info.totalMemory();
    }

    /** Free GPU memory in bytes, queried now (0 for the CPU). */
    public long freeMemory() {
        if (info == null) {
            return 0;
        }
        try {
            return Cuda.info(index).freeMemory();
        } catch (RuntimeException e) {
            return info.freeMemory();
        }
    }

    /** CUDA compute capability as "major.minor" (e.g. "9.0"), or "" for the CPU. */
    public String computeCapability() {
        return info == null ? "" : info.ccMajor() + "." + info.ccMinor();
    }

    /**
     * Human-readable description: for the CPU its core count; for a GPU its name, total and free memory,
     * compute capability and multiprocessor count, e.g.
     * {@code cuda:0 NVIDIA H200 (139.7 GiB, 139.1 GiB free, compute capability 9.0, 132 SMs)}.
     */
    public String description() {
        if (info == null) {
            return "cpu (" + Runtime.getRuntime().availableProcessors() + " cores)";
        }
        return String.format(Locale.ROOT, "%s %s (%.1f GiB, %.1f GiB free, compute capability %s, %d SMs)", this,
                info.name(), info.totalMemory() / 1073741824.0, freeMemory() / 1073741824.0, computeCapability(),
                info.multiprocessors());
    }

    /** Devices are shared values; closing one releases nothing (kept for try-with-resources symmetry). */
    @Override
    public void close() {}

    @Override
    public boolean equals(Object o) {
        return o instanceof Device d && d.kind == kind && d.index == index;
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, index);
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}
