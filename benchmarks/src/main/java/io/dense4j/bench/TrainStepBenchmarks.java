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
 * Full training steps of the reference model (784-128 relu-10 softmax, sparse CCE, Adam 1e-3) through
 * d4j_net_train: gather by shuffled index, forward, fused loss, backward, one update. {@code stepsPerCall}
 * steps run in ONE native call; comparing 1 with 64 shows what a JNI crossing per step costs. The score is
 * the time of one call: divide by stepsPerCall for a step (the report does).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TrainStepBenchmarks {
    @Param({"cpu"})
    public String device;

    @Param({"32", "256"})
    public int batch;

    @Param({"1", "64"})
    public int stepsPerCall;

    @Param({"1"})
    public int cpuThreads;

    DeviceOps ops;
    DeviceOps.Net net;
    DeviceBuffer x, labels, order;
    int rows;

    @Setup
    public void setup() {
        ops = Devices.open(device);
        ops.setThreads(cpuThreads);
        rows = Math.max(batch * stepsPerCall, 1024);
        SplittableRandom rng = new SplittableRandom(11);
        float[] xs = new float[rows * Work.REF_SIZES[0]];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) rng.nextDouble(); // pixels in [0,1]
        }
        int[] lab = new int[rows];
        int[] ord = new int[rows];
        for (int i = 0; i < rows; i++) {
            lab[i] = rng.nextInt(10);
            ord[i] = i;
        }
        for (int i = rows - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = ord[i];
            ord[i] = ord[j];
            ord[j] = t;
        }
        x = ops.upload(xs);
        labels = ops.uploadInts(lab);
        order = ops.uploadInts(ord);
        net = ops.createNet(Work.REF_SIZES, Work.REF_ACTS, batch, 1, new float[] {0.9f, 0.999f, 1e-8f, 0, 0}, 42);
    }

    @TearDown
    public void tearDown() {
        if (ops != null) {
            net.close();
            x.close();
            labels.close();
            order.close();
            ops.close();
            ops = null;
        }
    }

    @Benchmark
    public double trainStep() {
        double loss = net.train(x, labels, order, rows, 0, batch, stepsPerCall, 1e-3f);
        ops.synchronize();
        return loss;
    }
}
