/**
 * The JavaCPP binding of Dense4J's native kernels: {@code CpuKernels} (native/include/dense4j.h, libdense4j_cpu,
 * our own kernels, no BLAS library) and {@code CudaKernels} (dense4j_cuda.h, libdense4j_cuda). Used by the Java API's
 * backends and by the per-op benchmarks; applications use the API (module io.dense4j) instead.
 */
module io.dense4j.nativelib {
    requires transitive org.bytedeco.javacpp;

    exports io.dense4j.nativelib;
}
