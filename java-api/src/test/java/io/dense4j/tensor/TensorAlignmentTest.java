package io.dense4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.internal.NativeMemory;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Every tensor's elements start on a 64-byte line (the kernels' vector loads of a row of weights must not straddle
 * two lines), inside an allocation of its own: small and large (JavaCPP's malloc serves those from separate pools),
 * float and int; the elements read and write as before, nothing is written around them, and close() frees them.
 */
class TensorAlignmentTest {
    private static final long[] SIZES = {0, 1, 3, 15, 16, 17, 31, 33, 784, 1000, 784 * 128 + 128, 3 * 101_770 + 5};

    @Test
    void everyTensorStartsOnACacheLine() {
        for (long n : SIZES) {
            try (Tensor f = Tensor.zeros(n); Tensor i = Tensor.zerosInt(n)) {
                assertEquals(0, NativeMemory.floats(f).address() % Tensor.ALIGN_BYTES, "float32 tensor of " + n);
                assertEquals(0, NativeMemory.ints(i).address() % Tensor.ALIGN_BYTES, "int32 tensor of " + n);
                assertEquals(0, NativeMemory.floats(f).position());
            }
        }
        Random r = new Random(3);
        float[][] rows = new float[33][31];
        for (float[] row : rows) {
            for (int j = 0; j < row.length; j++) {
                row[j] = r.nextFloat() - 0.5f;
            }
        }
        try (Tensor t = Tensor.of(rows); Tensor c = t.copy(); Tensor g = t.gatherRows(new int[] {32, 0, 5})) {
            for (Tensor x : new Tensor[] {t, c, g}) {
                assertEquals(0, NativeMemory.floats(x).address() % Tensor.ALIGN_BYTES);
            }
            assertArrayEquals(t.toFloatArray(), c.toFloatArray());
            assertArrayEquals(rows[32], g.row(0));
            assertArrayEquals(rows[5], g.row(2));
        }
    }

    @Test
    void elementsReadAndWriteInPlaceAndNothingAroundThem() {
        for (long n : new long[] {1, 17, 1000}) {
            try (Tensor t = Tensor.zeros(n)) {
                float[] v = new float[(int) n];
                for (int i = 0; i < n; i++) {
                    v[i] = i + 0.5f;
                }
                t.write(0, v, 0, v.length);
                assertArrayEquals(v, t.toFloatArray());
                assertEquals(n - 0.5f, t.getFloat(n - 1));
                assertThrows(IndexOutOfBoundsException.class, () -> t.getFloat(n));
                // the elements are exactly the view's: its limit is the tensor's size
                assertEquals(n, NativeMemory.floats(t).limit());
                t.zero();
                assertArrayEquals(new float[(int) n], t.toFloatArray());
            }
        }
    }

    @Test
    void closeFreesAndIsIdempotent() {
        Tensor t = Tensor.zeros(784, 128);
        t.setFloat(5, 2f);
        t.close();
        assertTrue(t.isClosed());
        t.close();
        assertThrows(IllegalStateException.class, () -> t.getFloat(5));
    }
}
