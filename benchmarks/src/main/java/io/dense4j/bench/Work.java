package io.dense4j.bench;

import java.util.Map;

/**
 * The work one invocation of each benchmark does, for the secondary metrics: floating-point operations for
 * the GEMM-bound ops (a multiply-add counts 2, GEMM terms only, as BLAS benchmarks count) and bytes moved
 * for the memory-bound ones (each float read or written once counts 4 bytes). Also the per-invocation step
 * count of the training benchmark. Shared by the benchmarks' documentation and {@link Report}.
 */
public final class Work {
    private Work() {}

    /** The reference model: 784-128(relu)-10(softmax), 101,770 parameters. */
    public static final int[] REF_SIZES = {784, 128, 10};
    public static final int[] REF_ACTS = {1, 5};
    public static final long REF_PARAMS = 784L * 128 + 128 + 128L * 10 + 10;

    public enum Kind { FLOPS, BYTES, NONE }

    /** The unit of the secondary metric of a benchmark (by its method name). */
    public static Kind kind(String method) {
        return switch (method) {
            case "activationBackward", "softmaxCrossEntropy", "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop",
                    "optimizer" -> Kind.BYTES;
            case "predictOneRow" -> Kind.NONE;
            default -> Kind.FLOPS;
        };
    }

    /** Floats moved per parameter by one update: params read+write, grads read, each moment read+write. */
    public static int floatsPerParam(String optimizer) {
        return switch (optimizer) {
            case "sgd" -> 3;
            case "momentum", "nesterov", "rmsprop" -> 5;
            case "adam", "adamw" -> 7;
            default -> throw new IllegalArgumentException("optimizer " + optimizer);
        };
    }

    /** Training FLOPs of one step of a batch of b rows: forward, dW of every layer, dx of all but the first. */
    public static double trainStepFlops(int[] sizes, int b) {
        double f = 0;
        for (int l = 0; l + 1 < sizes.length; l++) {
            double mac = (double) b * sizes[l] * sizes[l + 1];
            f += 2 * mac * (l == 0 ? 2 : 3);
        }
        return f;
    }

    public static double inferenceFlops(int[] sizes, int b) {
        double f = 0;
        for (int l = 0; l + 1 < sizes.length; l++) {
            f += 2.0 * b * sizes[l] * sizes[l + 1];
        }
        return f;
    }

    /** Steps (or rows, for inference) per invocation: the divisor for a per-step time. */
    public static int stepsPerInvocation(String method, Map<String, String> p) {
        return "trainStep".equals(method) ? Integer.parseInt(p.getOrDefault("stepsPerCall", "1")) : 1;
    }

    /** FLOPs or bytes of one invocation; NaN when the benchmark has no such figure. */
    public static double amount(String method, Map<String, String> p) {
        switch (method) {
            case "forward", "sgemmForward", "backwardFirstLayer", "sgemmWeightGrad", "sgemmInputGrad" -> {
                return 2 * Shape.parse(p.get("shape")).macs();
            }
            case "backward" -> {
                return 4 * Shape.parse(p.get("shape")).macs();
            }
            case "activationBackward" -> { // read y and dy, write dz
                Shape s = Shape.parse(p.get("shape"));
                return 3.0 * 4 * s.n() * s.out();
            }
            case "softmaxCrossEntropy" -> { // read logits and labels, write grad
                Shape s = Shape.parse(p.get("shape"));
                return 2.0 * 4 * s.n() * s.out() + 4.0 * s.n();
            }
            case "optimizer" -> {
                return 4.0 * floatsPerParam(p.get("optimizer")) * REF_PARAMS;
            }
            case "trainStep" -> {
                return trainStepFlops(REF_SIZES, Integer.parseInt(p.get("batch"))) * stepsPerInvocation(method, p);
            }
            case "inference" -> {
                return inferenceFlops(REF_SIZES, Integer.parseInt(p.get("batch")));
            }
            case "sgemmPeak" -> {
                double s = Integer.parseInt(p.getOrDefault("size", "0"));
                return 2 * s * s * s;
            }
            default -> {
                return Double.NaN;
            }
        }
    }
}
