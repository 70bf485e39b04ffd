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

/** Inference of the reference model (d4j_net_forward: both layers, softmax output) at batch 1, 32 and 256. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class InferenceBenchmarks {
    @Param({"cpu"})
    public String device;

    @Param({"1", "32", "256"})
    public int batch;

    @Param({"1"})
    public int cpuThreads;

    DeviceOps ops;
    DeviceOps.Net net;
    DeviceBuffer x, out;

    @Setup
    public void setup() {
        ops = Devices.open(device);
        ops.setThreads(cpuThreads);
        x = ops.upload(OpBenchmarks.random(new SplittableRandom(5), (long) batch * Work.REF_SIZES[0], 1f));
        out = ops.zeros((long) batch * Work.REF_SIZES[2]);
        net = ops.createNet(Work.REF_SIZES, Work.REF_ACTS, 256, 1, new float[] {0.9f, 0.999f, 1e-8f, 0, 0}, 42);
    }

    @TearDown
    public void tearDown() {
        if (ops != null) {
            net.close();
            x.close();
            out.close();
            ops.close();
            ops = null;
        }
    }

    @Benchmark
    public DeviceBuffer inference() {
        net.forward(x, batch, out);
        ops.synchronize();
        return out;
    }
}
