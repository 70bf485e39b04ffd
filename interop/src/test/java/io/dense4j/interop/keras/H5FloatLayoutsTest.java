package io.dense4j.interop.keras;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.tensor.ElementCodec;
import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Weights stored as HDF5 floats of other widths and layouts (fixture float_layouts.h5, written by
 * make_keras_fixtures.py): jHDF does the reading, so its binary16 widening is checked against the API's codec on
 * every pattern, and a layout it would misread (bfloat16 as a 16-bit HDF5 float) is refused.
 */
class H5FloatLayoutsTest {
    private static final Path FILE = KerasFixturesTest.DIR.resolve("float_layouts.h5");

    @Test
    void jhdfWidensEveryHalfPatternAsTheCodecDoes() throws IOException {
        try (HdfFile h = new HdfFile(FILE)) {
            Dataset ds = h.getDatasetByPath("f16");
            float[] v = (float[]) ds.getDataFlat();
            assertEquals(65536, v.length);
            for (int i = 0; i < v.length; i++) {
                float ours = ElementCodec.halfToFloat((short) i);
                if (Float.isNaN(ours)) {
                    assertTrue(Float.isNaN(v[i]), "half 0x" + Integer.toHexString(i));
                } else {
                    assertEquals(Float.floatToRawIntBits(ours), Float.floatToRawIntBits(v[i]), "half 0x" + Integer.toHexString(i));
                }
            }
            // the importer refuses non-finite weights whatever their width, naming the first
            var e = assertThrows(IllegalArgumentException.class,
                    () -> H5.floats(ds, new long[] {-1}, "the kernel", Files.size(FILE)));
            assertEquals("the kernel has a non-finite value (Infinity) at flat index 31744", e.getMessage());
        }
    }

    @Test
    void refusesAFloatLayoutJhdfWouldMisread() throws IOException {
        try (HdfFile h = new HdfFile(FILE)) {
            long size = Files.size(FILE);
            var e = assertThrows(IllegalArgumentException.class,
                    () -> H5.floats(h.getDatasetByPath("bf16"), new long[] {2}, "the bias of layer 'dense' (Dense)", size));
            assertEquals("the bias of layer 'dense' (Dense) is a 16-bit float with 8 exponent and 7 mantissa bits, not "
                    + "IEEE 754 binary16 (bfloat16?): not supported; save the weights as float16, float32 or float64",
                    e.getMessage());
            assertArrayEquals(new float[] {(float) 0.1, -2.5f, 0f},
                    H5.floats(h.getDatasetByPath("f64"), new long[] {3}, "the kernel", size));
        }
    }
}
