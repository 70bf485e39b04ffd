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
 * The single Dense-layer ops of native/include/dense4j.h at one shape "n x in x out", and the vendor GEMM at
 * the same shapes (the ceiling: OpenBLAS sgemm on the CPU; on cuda our own d4j_cuda_gemm, whose comparison with
 * cuBLAS is native/scripts/gpu-check.sh's table):
 * <ul>
 * <li>{@code forward}: d4j_dense_forward, GEMM with the fused bias + activation epilogue (relu, or softmax
 *     for out <= 10); ceiling {@code sgemmForward} (x[n,in].W[in,out]).</li>
 * <li>{@code backward}: d4j_dense_backward with dx: dW = x^T.dz, db, dx = dz.W^T; ceiling
 *     {@code sgemmWeightGrad} + {@code sgemmInputGrad}.</li>
 * <li>{@code backwardFirstLayer}: the same without dx (dW and db only, as for a first layer); ceiling
 *     {@code sgemmWeightGrad}. The bias gradient is not a separate C function: its cost is estimated as
 *     backwardFirstLayer - sgemmWeightGrad.</li>
 * <li>{@code activationBackward}: d4j_activation_backward (relu) over [n,out], memory-bound (GB/s).</li>
 * <li>{@code softmaxCrossEntropy}: d4j_loss SPARSE_CCE on logits [n,out]: loss, gradient, correct count.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class OpBenchmarks {
    @Param({"cpu"})
    public String device;

    @Param({Shape.REF_HIDDEN, Shape.REF_OUTPUT, Shape.MEDIUM})
    public String shape;

    /** OpenBLAS threads on the CPU device (ignored by the others). */
    @Param({"1"})
    public int cpuThreads;

    DeviceOps ops;
    Shape s;
    int act;
    DeviceBuffer x, w, b, y, dz, dy, dw, db, dx, labels, grad;

    @Setup
    public void setup() {
        s = Shape.parse(shape);
        s.checkDevice(device);
        ops = Devices.open(device);
        ops.setThreads(cpuThreads);
        act = s.activation();
        SplittableRandom rng = new SplittableRandom(7);
        x = ops.upload(random(rng, (long) s.n() * s.in(), 1f));
        w = ops.upload(random(rng, (long) s.in() * s.out(), (float) Math.sqrt(6.0 / (s.in() + s.out()))));
        b = ops.upload(random(rng, s.out(), 0.1f));
        y = ops.zeros((long) s.n() * s.out());
        dy = ops.upload(random(rng, (long) s.n() * s.out(), 1f));
        dz = ops.upload(random(rng, (long) s.n() * s.out(), 1f));
        dw = ops.zeros((long) s.in() * s.out());
        db = ops.zeros(s.out());
        dx = ops.zeros((long) s.n() * s.in());
        grad = ops.zeros((long) s.n() * s.out());
        int[] lab = new int[s.n()];
        for (int i = 0; i < lab.length; i++) {
            lab[i] = rng.nextInt(s.out());
        }
        labels = ops.uploadInts(lab);
        // relu outputs with about half the units active, as after a real forward pass
        ops.denseForward(x, w, b, null, y, s.n(), s.in(), s.out(), 1);
        ops.synchronize();
    }

    static float[] random(SplittableRandom rng, long n, float scale) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rng.nextDouble(-scale, scale);
        }
        return a;
    }

    @TearDown
    public void tearDown() {
        if (ops != null) {
            for (DeviceBuffer d : new DeviceBuffer[] {x, w, b, y, dz, dy, dw, db, dx, labels, grad}) {
                if (d != null) {
                    d.close();
                }
            }
            ops.close();
            ops = null;
        }
    }

    @Benchmark
    public DeviceBuffer forward() {
        ops.denseForward(x, w, b, null, grad, s.n(), s.in(), s.out(), act);
        ops.synchronize();
        return grad;
    }

    @Benchmark
    public DeviceBuffer backward() {
        ops.denseBackward(x, w, dz, dw, db, dx, s.n(), s.in(), s.out());
        ops.synchronize();
        return dx;
    }

    @Benchmark
    public DeviceBuffer backwardFirstLayer() {
        ops.denseBackward(x, w, dz, dw, db, null, s.n(), s.in(), s.out());
        ops.synchronize();
        return dw;
    }

    @Benchmark
    public DeviceBuffer activationBackward() {
        ops.activationBackward(null, y, dy, dz, s.n(), s.out(), 1);
        ops.synchronize();
        return dz;
    }

    @Benchmark
    public double softmaxCrossEntropy() {
        double loss = ops.softmaxCrossEntropy(y, labels, grad, s.n(), s.out());
        ops.synchronize();
        return loss;
    }

    /** Vendor GEMM of the forward pass: [n,in].[in,out]. */
    @Benchmark
    public DeviceBuffer sgemmForward() {
        ops.gemm(DeviceOps.NO_TRANS, DeviceOps.NO_TRANS, s.n(), s.out(), s.in(), x, w, grad);
        ops.synchronize();
        return grad;
    }

    /** Vendor GEMM of the weight gradient: x^T [in,n] . dz [n,out]. */
    @Benchmark
    public DeviceBuffer sgemmWeightGrad() {
        ops.gemm(DeviceOps.TRANS, DeviceOps.NO_TRANS, s.in(), s.out(), s.n(), x, dz, dw);
        ops.synchronize();
        return dw;
    }

    /** Vendor GEMM of the input gradient: dz [n,out] . W^T [out,in]. */
    @Benchmark
    public DeviceBuffer sgemmInputGrad() {
        ops.gemm(DeviceOps.NO_TRANS, DeviceOps.TRANS, s.n(), s.in(), s.out(), dz, w, dx);
        ops.synchronize();
        return dx;
    }
}
