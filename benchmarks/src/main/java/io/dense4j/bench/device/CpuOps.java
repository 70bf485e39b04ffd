package io.dense4j.bench.device;

import io.dense4j.nativelib.CpuKernels;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas;

/** The native CPU kernels (libdense4j_cpu) through their JavaCPP binding; OpenBLAS sgemm is the vendor GEMM. */
public final class CpuOps implements DeviceOps {

    /** A native buffer (FloatPointer or IntPointer). */
    static final class Buf implements DeviceBuffer {
        final Pointer p;
        final long n;

        Buf(Pointer p, long n) {
            this.p = p;
            this.n = n;
        }

        FloatPointer f() {
            return (FloatPointer) p;
        }

        IntPointer i() {
            return (IntPointer) p;
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void close() {
            p.close();
        }
    }

    private final LongPointer correct = new LongPointer(1);
    private final FloatPointer hpPtr = new FloatPointer(CpuKernels.OPT_HP_COUNT);
    private float[] lastHp;

    public CpuOps() {
        CpuKernels.load();
    }

    private static Buf b(DeviceBuffer d) {
        return (Buf) d;
    }

    private static FloatPointer f(DeviceBuffer d) {
        return d == null ? null : b(d).f();
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String description() {
        return "Dense4J native CPU kernels (libdense4j_cpu; vendor GEMM: " + openblas.OPENBLAS_VERSION.trim()
                + "), " + CpuKernels.d4j_get_num_threads() + " thread(s), kernels " + kernelVariant();
    }

    /** The GEMM kernel variant the CPU engine runs (chosen by CPUID, or D4J_CPU_ISA): avx512, avx2 or portable. */
    public static String kernelVariant() {
        CpuKernels.load();
        return switch (CpuKernels.d4j_get_isa()) {
            case CpuKernels.ISA_AVX512 -> "avx512";
            case CpuKernels.ISA_AVX2 -> "avx2";
            default -> "portable";
        };
    }

    @Override
    public void setThreads(int threads) {
        // Dense4J's pool for its kernels; OpenBLAS's own threads for the vendor-GEMM ceiling this device also
        // measures (libdense4j_cpu does not use OpenBLAS: the two never share a thread pool)
        CpuKernels.d4j_set_num_threads(threads);
        org.bytedeco.openblas.global.openblas_full.openblas_set_num_threads(threads);
    }

    @Override
    public DeviceBuffer upload(float[] values) {
        return new Buf(new FloatPointer(values), values.length);
    }

    @Override
    public DeviceBuffer uploadInts(int[] values) {
        return new Buf(new IntPointer(values), values.length);
    }

    @Override
    public DeviceBuffer zeros(long n) {
        FloatPointer p = new FloatPointer(n);
        p.zero();
        return new Buf(p, n);
    }

    @Override
    public float[] download(DeviceBuffer d) {
        float[] a = new float[Math.toIntExact(d.size())];
        f(d).get(a);
        return a;
    }

    @Override
    public void synchronize() {
    }

    @Override
    public void denseForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer bias, DeviceBuffer z, DeviceBuffer y,
                             int n, int in, int out, int act) {
        CpuKernels.d4j_dense_forward(f(x), f(w), f(bias), f(z), f(y), n, in, out, act);
    }

    @Override
    public void denseBackward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer dz, DeviceBuffer dw, DeviceBuffer db,
                              DeviceBuffer dx, int n, int in, int out) {
        CpuKernels.d4j_dense_backward(f(x), f(w), f(dz), f(dw), f(db), f(dx), n, in, out);
    }

    @Override
    public void activationBackward(DeviceBuffer z, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dz, int n, int k, int act) {
        CpuKernels.d4j_activation_backward(f(z), f(y), null, f(dy), f(dz), n, k, act);
    }

    @Override
    public double softmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer labels, DeviceBuffer grad, int n, int k) {
        return CpuKernels.d4j_loss(CpuKernels.LOSS_SPARSE_CCE, f(logits), b(labels).i(), null, f(grad), null, n, k,
                1f, correct);
    }

    @Override
    public void optimizerStep(int kind, float[] hp, float lr, long step, DeviceBuffer params, DeviceBuffer grads,
                              DeviceBuffer state, long n) {
        if (hp != lastHp) { // kept native across invocations: no allocation inside the timed loop
            hpPtr.put(hp, 0, Math.min(hp.length, CpuKernels.OPT_HP_COUNT));
            lastHp = hp;
        }
        CpuKernels.d4j_optimizer_step(kind, hpPtr, lr, step, f(params), f(grads), f(state), n);
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, DeviceBuffer a, DeviceBuffer bb, DeviceBuffer c) {
        int lda = transA ? m : k;
        int ldb = transB ? k : n;
        openblas.cblas_sgemm(openblas.CblasRowMajor, transA ? openblas.CblasTrans : openblas.CblasNoTrans,
                transB ? openblas.CblasTrans : openblas.CblasNoTrans, m, n, k, 1f, f(a), lda, f(bb), ldb, 0f, f(c), n);
    }

    @Override
    public Net createNet(int[] sizes, int[] acts, int maxBatch, int optimizer, float[] hp, long seed) {
        return new CpuNet(sizes, acts, maxBatch, optimizer, hp, seed);
    }

    private static final class CpuNet implements Net {
        final IntPointer sizes;
        final IntPointer acts;
        final FloatPointer dropout;
        final FloatPointer hp;
        final FloatPointer params;
        final FloatPointer grads;
        final FloatPointer state;
        final FloatPointer lrs;
        final LongPointer step = new LongPointer(1);
        final DoublePointer stats = new DoublePointer(3);
        final long count;
        final int maxSteps = 4096;
        CpuKernels.d4j_net handle;

        CpuNet(int[] sizesArr, int[] actsArr, int maxBatch, int optimizer, float[] hpArr, long seed) {
            sizes = new IntPointer(sizesArr);
            acts = new IntPointer(actsArr);
            dropout = new FloatPointer(actsArr.length);
            dropout.zero();
            hp = new FloatPointer(hpArr);
            count = CpuKernels.d4j_param_count(actsArr.length, sizes);
            params = new FloatPointer(JavaOps.initParams(sizesArr, seed));
            grads = new FloatPointer(count);
            grads.zero();
            state = new FloatPointer(count * CpuKernels.OPT_STATE_PER_PARAM);
            state.zero();
            lrs = new FloatPointer(maxSteps);
            handle = CpuKernels.d4j_net_create(actsArr.length, sizes, acts, dropout, CpuKernels.LOSS_SPARSE_CCE,
                    maxBatch, params, grads, optimizer, hp, state, 0f, 0f);
            if (handle == null || handle.isNull()) {
                throw new IllegalStateException("d4j_net_create failed");
            }
        }

        @Override
        public double train(DeviceBuffer x, DeviceBuffer labels, DeviceBuffer order, long nOrder, long first, int batch,
                            int nBatches, float lr) {
            if (nBatches > maxSteps) {
                throw new IllegalArgumentException("at most " + maxSteps + " steps per call");
            }
            if (lrs.get(0) != lr) {
                for (int i = 0; i < maxSteps; i++) {
                    lrs.put(i, lr);
                }
            }
            stats.put(0, 0);
            int rc = CpuKernels.d4j_net_train(handle, f(x), b(labels).i(), null, b(order).i(), nOrder, first, batch,
                    nBatches, lrs, step, 42L, stats);
            if (rc != CpuKernels.OK) {
                throw new IllegalStateException("d4j_net_train returned " + rc);
            }
            return stats.get(0);
        }

        @Override
        public void forward(DeviceBuffer x, long n, DeviceBuffer out) {
            int rc = CpuKernels.d4j_net_forward(handle, f(x), n, f(out), null, null, stats);
            if (rc != CpuKernels.OK) {
                throw new IllegalStateException("d4j_net_forward returned " + rc);
            }
        }

        @Override
        public long parameterCount() {
            return count;
        }

        @Override
        public void close() {
            if (handle != null) {
                CpuKernels.d4j_net_destroy(handle);
                handle = null;
                for (Pointer p : new Pointer[] {sizes, acts, dropout, hp, params, grads, state, lrs, step, stats}) {
                    p.close();
                }
            }
        }
    }

    @Override
    public void close() {
        correct.close();
        hpPtr.close();
    }
}
