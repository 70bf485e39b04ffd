/**
 * Devices the benchmarks run on, behind one interface ({@link io.dense4j.bench.device.DeviceOps}).
 *
 * <p>Built in: {@code cpu} (the native CPU kernels through JavaCPP, OpenBLAS as the vendor GEMM) and
 * {@code java} (plain Java loops, the baseline every speed-up is measured against). Plugged in through
 * {@link io.dense4j.bench.device.DeviceOpsProvider}: {@code cuda}
 * ({@link io.dense4j.bench.device.CudaOps}, {@link io.dense4j.bench.device.CudaOpsProvider}).
 *
 * <h2>The CUDA device</h2>
 * <ul>
 * <li>{@link io.dense4j.bench.device.CudaOps} implements {@link io.dense4j.bench.device.DeviceOps} over our own
 *     binding {@code io.dense4j.nativelib.CudaKernels} (native/include/dense4j_cuda.h): buffers are
 *     {@code d4j_cuda_malloc} allocations moved only with {@code d4j_cuda_memcpy_*} (Java never reads a device
 *     pointer), each op is one {@code d4j_cuda_*} call on the default stream, {@code synchronize()} is
 *     {@code d4j_cuda_synchronize} (every benchmark calls it at the end of an invocation), and {@code createNet}
 *     wraps {@code d4j_cuda_net_create / train / forward} with the data resident on the device.</li>
 * <li>{@code gemm} is NOT cuBLAS: the project has no cuBLAS Java binding (it would need the org.bytedeco:cuda
 *     presets). It is Dense4J's fastest FP32 kernel, {@code d4j_cuda_gemm} with variant AUTO, so on cuda the
 *     "vendor GEMM" column means our own GEMM. The comparison with cuBLAS on the same GPU is the table of
 *     {@code native/scripts/gpu-check.sh} (bench_cuda next to PyTorch {@code torch.mm}, FP32 and TF32).</li>
 * <li>{@link io.dense4j.bench.device.CudaOpsProvider} serves {@code device=cuda}; its
 *     {@code unavailableReason()} is the binding's loading error, or the library's message when
 *     {@code d4j_cuda_device_count} fails (no driver, no device). It is listed in
 *     {@code benchmarks/src/main/resources/META-INF/services/io.dense4j.bench.device.DeviceOpsProvider}.</li>
 * <li>{@code benchmarks/bench.sh quick|full} then also runs cuda, with the large 4096x4096x4096 shape and an 8192
 *     peak; the smoke test runs the benchmark bodies on it, and CudaDeviceTest compares its outputs with the
 *     cpu device, when a GPU is visible.</li>
 * </ul>
 * Without a GPU the suite prints {@code SKIPPED device 'cuda': <reason>} and the report marks every GPU figure
 * "not measured" with that reason.
 */
package io.dense4j.bench.device;
