package io.dense4j.nativelib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CUDA binding loads everywhere (cudart is static in libdense4j_cuda) and reports a missing GPU cleanly;
 * where a GPU exists, a round trip through device memory and one GEMM work. Device memory is never dereferenced
 * from Java.
 */
class CudaKernelsTest {
    private static int rc;
    private static int count;
    private static String message;

    @BeforeAll
    static void load() {
        assertNotNull(Loader.load(CudaKernels.class));
        int[] c = new int[1];
        rc = CudaKernels.d4j_cuda_device_count(c);
        count = c[0];
        message = CudaKernels.lastError();
        System.out.println(rc == CudaKernels.OK ? "CUDA devices: " + count : "no GPU: " + message);
    }

    @Test
    void deviceCountIsConsistent() {
        if (rc == CudaKernels.OK) {
            assertTrue(count >= 1);
            byte[] name = new byte[256];
            long[] info = new long[CudaKernels.INFO_COUNT];
            assertEquals(CudaKernels.OK, CudaKernels.d4j_cuda_device_info(0, name, name.length, info));
            assertTrue(name[0] != 0);
            assertTrue(info[CudaKernels.INFO_TOTAL_MEMORY] > 0 && info[CudaKernels.INFO_CC_MAJOR] >= 1);
        } else {
            assertEquals(CudaKernels.ERR_NO_DEVICE, rc);
            assertEquals(0, count);
            assertFalse(message.isEmpty());
            if (CudaKernels.d4j_cuda_built_with_cuda() == 0) {
                // built without a CUDA compiler: the placeholder library says so
                assertTrue(message.startsWith("this build has no CUDA library"), message);
            } else {
                assertEquals(1, CudaKernels.d4j_cuda_built_with_cuda());
                assertTrue(message.contains("no CUDA device"), message);
            }
        }
    }

    @Test
    void noDevicePathsFailCleanly() {
        assumeTrue(rc != CudaKernels.OK, "a CUDA device is present");
        Pointer p = CudaKernels.d4j_cuda_malloc(1024);
        assertTrue(p == null || p.isNull());
        assertEquals(CudaKernels.ERR_NO_DEVICE, CudaKernels.d4j_cuda_synchronize());
        assertFalse(CudaKernels.lastError().isEmpty());
        long[] info = new long[CudaKernels.INFO_COUNT];
        assertEquals(CudaKernels.ERR_NO_DEVICE, CudaKernels.d4j_cuda_device_info(0, new byte[64], 64, info));
        // host-only helpers and settings still work
        assertEquals(784L * 128 + 128 + 128 * 10 + 10, CudaKernels.d4j_cuda_param_count(2, new int[] {784, 128, 10}));
        assertEquals(CudaKernels.OK, CudaKernels.d4j_cuda_set_precision(CudaKernels.PRECISION_TF32));
        assertEquals(CudaKernels.PRECISION_TF32, CudaKernels.d4j_cuda_get_precision());
        assertEquals(CudaKernels.OK, CudaKernels.d4j_cuda_set_precision(CudaKernels.PRECISION_FP32));
        assertEquals(CudaKernels.ERR_ARGUMENT, CudaKernels.d4j_cuda_set_gemm_variant(99));
    }

    @Test
    void gemmRoundTripOnGpu() {
        assumeTrue(rc == CudaKernels.OK, "skipped: " + message);
        float[] a = {1, 2, 3, 4, 5, 6};      // [2,3]
        float[] b = {1, 0, 0, 1, 1, 1};      // [3,2]
        try (FloatPointer ha = new FloatPointer(a); FloatPointer hb = new FloatPointer(b); FloatPointer hc = new FloatPointer(4)) {
            FloatPointer da = new FloatPointer(CudaKernels.d4j_cuda_malloc(6 * 4));
            FloatPointer db = new FloatPointer(CudaKernels.d4j_cuda_malloc(6 * 4));
            FloatPointer dc = new FloatPointer(CudaKernels.d4j_cuda_malloc(4 * 4));
            assertEquals(CudaKernels.OK, CudaKernels.d4j_cuda_memcpy_h2d(da, ha, 24));
            assertEquals(CudaKernels.OK, CudaKernels.d4j_cuda_memcpy_h2d(db, hb, 24));
            assertEquals(CudaKernels.OK, CudaKernels.d4j_cuda_gemm(0, 0, 2, 2, 3, da, 3, db, 2, dc, 2));
            assertEquals(CudaKernels.OK, CudaKernels.d4j_cuda_memcpy_d2h(hc, dc, 16));
            float[] c = new float[4];
            hc.get(c);
            assertEquals(4f, c[0]); assertEquals(5f, c[1]); assertEquals(10f, c[2]); assertEquals(11f, c[3]);
            CudaKernels.d4j_cuda_free(da);
            CudaKernels.d4j_cuda_free(db);
            CudaKernels.d4j_cuda_free(dc);
        }
    }
}
