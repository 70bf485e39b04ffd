package io.dense4j.bench;

import io.dense4j.bench.device.DeviceUnavailableException;

/**
 * A Dense layer shape "n x in x out" as the benchmarks' {@code shape} parameter spells it: n rows in a batch,
 * in inputs, out units. The reference workload's layers are 32x784x128 (relu) and 32x128x10 (softmax).
 */
public record Shape(int n, int in, int out) {
    /** The shapes the suite runs; the last one only on a GPU. */
    public static final String REF_HIDDEN = "32x784x128", REF_OUTPUT = "32x128x10", MEDIUM = "256x1024x1024",
            LARGE = "4096x4096x4096";

    /** Above this many multiply-adds per GEMM a shape is GPU only (the CPU would take seconds per op). */
    static final double GPU_ONLY_MACS = 1e10;

    public static Shape parse(String s) {
        String[] p = s.toLowerCase().split("x");
        if (p.length != 3) {
            throw new IllegalArgumentException("shape '" + s + "' is not of the form NxINxOUT, e.g. 32x784x128");
        }
        return new Shape(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()), Integer.parseInt(p[2].trim()));
    }

    /** The activation the layer of this shape has in the benchmarks: softmax for a classifier head (out <= 10), else relu. */
    public int activation() {
        return out <= 10 ? 5 : 1;
    }

    public String activationName() {
        return out <= 10 ? "softmax" : "relu";
    }

    public double macs() {
        return (double) n * in * out;
    }

    public boolean gpuOnly() {
        return macs() > GPU_ONLY_MACS;
    }

    /** Throws (the benchmark is skipped with this reason) when a GPU-only shape is asked of a host device. */
    public void checkDevice(String device) {
        if (gpuOnly() && !"cuda".equals(device)) {
            throw new DeviceUnavailableException(String.format("shape %dx%dx%d skipped on '%s': GPU only "
                    + "(%.0f GFLOP per GEMM would take seconds per op on this CPU)", n, in, out, device, 2 * macs() / 1e9));
        }
    }

    @Override
    public String toString() {
        return n + "x" + in + "x" + out;
    }
}
