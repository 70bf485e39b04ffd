/**
 * Devices the benchmarks run on, behind one interface ({@link io.dense4j.bench.device.DeviceOps}).
 *
 * <p>Built in: {@code cpu} (the native CPU kernels through JavaCPP, OpenBLAS as the vendor GEMM) and
 * {@code java} (plain Java loops, the baseline every speed-up is measured against).
 *
 * <h2>Adding the CUDA device</h2>
 * <ol>
 * <li>Implement {@link io.dense4j.bench.device.DeviceOps} over the CUDA binding: buffers in device memory
 *     ({@link io.dense4j.bench.device.DeviceBuffer}), each op launching the kernels of issue 3 on one stream,
 *     {@code synchronize()} waiting for that stream (every benchmark calls it at the end of an invocation),
 *     {@code gemm} calling cuBLAS sgemm (the ceiling: remember cuBLAS is column-major, so row-major
 *     C = A.B is cublasSgemm on (B, A)), {@code createNet} wrapping the whole-network train/forward.</li>
 * <li>Implement {@link io.dense4j.bench.device.DeviceOpsProvider} with {@code device()} = "cuda" and an
 *     {@code unavailableReason()} that returns why not when the binding does not load or no GPU is visible
 *     (cudaGetDeviceCount), and list it in
 *     {@code benchmarks/src/main/resources/META-INF/services/io.dense4j.bench.device.DeviceOpsProvider}.</li>
 * <li>Nothing else changes: {@code benchmarks/bench.sh quick|full} then also runs cuda, with the large
 *     4096x4096x4096 shape and an 8192 peak; the smoke test runs the benchmark bodies on it when available.</li>
 * </ol>
 * Without a provider (or without a GPU) the suite prints {@code SKIPPED device 'cuda': <reason>} and the report
 * marks every GPU figure "not measured" with that reason.
 */
package io.dense4j.bench.device;
