package io.dense4j.bench;

import io.dense4j.bench.device.DeviceBuffer;
import io.dense4j.bench.device.DeviceOps;
import io.dense4j.bench.device.Devices;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One optimizer update (d4j_optimizer_step) over the reference model's 101,770 parameters in one contiguous
 * buffer. Memory-bound: reported in GB/s with the floats each update must move ({@link Work#floatsPerParam}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class OptimizerBenchmarks {
    @Param({"cpu"})
    public String device;

    @Param({"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"})
    public String optimizer;

    @Param({"1"})
    public int cpuThreads;

    DeviceOps ops;
    DeviceBuffer params, grads, state;
    int kind;
    float[] hp;
    long step;
    final long n = Work.REF_PARAMS;

    /** Native kind code and the 5 hyper-parameters of each optimizer (dense4j.h layout), PyTorch defaults. */
    static Object[] config(String optimizer) {
        return switch (optimizer) {
            case "sgd" -> new Object[] {0, new float[] {0, 0, 0, 0, 0}};
            case "momentum" -> new Object[] {0, new float[] {0.9f, 0, 0, 0, 0}};
            case "nesterov" -> new Object[] {0, new float[] {0.9f, 0, 0, 1, 0}};
            case "adam" -> new Object[] {1, new float[] {0.9f, 0.999f, 1e-8f, 0, 0}};
            case "adamw" -> new Object[] {2, new float[] {0.9f, 0.999f, 1e-8f, 0.01f, 0}};
            case "rmsprop" -> new Object[] {3, new float[] {0.99f, 1e-8f, 0, 0, 0}};
            default -> throw new IllegalArgumentException("optimizer " + optimizer);
        };
    }

    @Setup
    public void setup() {
        ops = Devices.open(device);
        ops.setThreads(cpuThreads);
        Object[] c = config(optimizer);
        kind = (Integer) c[0];
        hp = (float[]) c[1];
        SplittableRandom rng = new SplittableRandom(3);
        params = ops.upload(OpBenchmarks.random(rng, n, 0.1f));
        grads = ops.upload(OpBenchmarks.random(rng, n, 0.01f));
        state = ops.zeros(3 * n);
        step = 0;
    }

    @TearDown
    public void tearDown() {
        if (ops != null) {
            params.close();
            grads.close();
            state.close();
            ops.close();
            ops = null;
        }
    }

    @Benchmark
    public DeviceBuffer optimizer() {
        ops.optimizerStep(kind, hp, 1e-4f, ++step, params, grads, state, n);
        ops.synchronize();
        return params;
    }
}
