package io.dense4j.bench;

import io.dense4j.bench.device.DeviceBuffer;
import io.dense4j.bench.device.DeviceOps;
import io.dense4j.bench.device.DeviceUnavailableException;
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
 * The machine's measured peak: the device's plain GEMM on a large square problem (OpenBLAS sgemm at 2048 on the
 * CPU; Dense4J's d4j_cuda_gemm at 8192 on cuda, the suite passes that size). "% of peak" in the report is relative to this figure at the same thread count.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public class PeakBenchmark {
    @Param({"cpu"})
    public String device;

    @Param({"2048"})
    public int size;

    @Param({"1"})
    public int cpuThreads;

    DeviceOps ops;
    DeviceBuffer a, b, c;

    @Setup
    public void setup() {
        if ("java".equals(device)) {
            throw new DeviceUnavailableException("device 'java' skipped: the plain-Java baseline has no peak figure");
        }
        ops = Devices.open(device);
        ops.setThreads(cpuThreads);
        SplittableRandom rng = new SplittableRandom(1);
        long n2 = (long) size * size;
        a = ops.upload(OpBenchmarks.random(rng, n2, 1f));
        b = ops.upload(OpBenchmarks.random(rng, n2, 1f));
        c = ops.zeros(n2);
    }

    @TearDown
    public void tearDown() {
        if (ops != null) {
            a.close();
            b.close();
            c.close();
            ops.close();
            ops = null;
        }
    }

    @Benchmark
    public DeviceBuffer sgemmPeak() {
        ops.gemm(DeviceOps.NO_TRANS, DeviceOps.NO_TRANS, size, size, size, a, b, c);
        ops.synchronize();
        return c;
    }
}
