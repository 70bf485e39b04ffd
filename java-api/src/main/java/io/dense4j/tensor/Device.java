package io.dense4j.tensor;

import java.util.List;
import java.util.Objects;

/**
 * Where tensors live and kernels run. {@link #cpu()} always exists; CUDA devices come with the CUDA
 * kernel library. A device is a value: two {@code Device} objects for the same place are equal.
 */
public final class Device implements AutoCloseable {
    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0, "cpu");

    private final Kind kind;
    private final int index;
    private final String name;

    private Device(Kind kind, int index, String name) {
        this.kind = kind;
        this.index = index;
        this.name = name;
    }

    public static Device cpu() {
        return CPU;
    }

    /**
     * Parses {@code cpu}, {@code cuda} or {@code cuda:N}, as the command line takes it.
     *
     * @throws IllegalArgumentException for any other text
     */
    public static Device parse(String spec) {
        String s = spec.trim().toLowerCase();
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
            }
            return cuda(idx);
        }
        throw new IllegalArgumentException("unknown device '" + spec + "': expected cpu, cuda or cuda:N");
    }

    /**
     * A CUDA device.
     *
     * @throws UnsupportedOperationException saying why when no CUDA device can be used here
     */
    public static Device cuda(int index) {
        throw new UnsupportedOperationException("CUDA device cuda:" + index
                + " is not available: this build of Dense4J has no CUDA kernel library");
    }

    /** Every device usable in this process, CPU first. */
    public static List<Device> available() {
        return List.of(CPU);
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

    /** Human-readable description (name, memory, compute capability for GPUs). */
    public String description() {
        return name;
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
