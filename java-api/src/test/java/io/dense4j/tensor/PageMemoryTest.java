package io.dense4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.internal.NativeMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * Tensors of 2 MB and more live in {@link PageMemory} (our native page allocator, 2 MB pages), owned explicitly:
 * freed exactly once by close() or, if never closed, by the garbage collector; never freed twice (a close after a
 * close, the collector after a close), never used after close. A double unmap or a use of unmapped memory would
 * crash this JVM, so the run finishing is part of the check.
 */
class PageMemoryTest {
    private static final long TWO_MB = 2L << 20;

    @Test
    void largeTensorsStartOnA2MbPageAndSmallOnesDoNot() {
        long justBelow = TWO_MB / 4 - 1;
        for (long n : new long[] {TWO_MB / 4, TWO_MB / 4 + 1, 784 * 2_000 + 13, 60_000 * 784}) {
            try (Tensor f = Tensor.zeros(n); Tensor i = Tensor.zerosInt(n)) {
                assertEquals(0, NativeMemory.floats(f).address() % TWO_MB, "float32 tensor of " + n);
                assertEquals(0, NativeMemory.ints(i).address() % TWO_MB, "int32 tensor of " + n);
                assertTrue(PageMemory.isLive(NativeMemory.floats(f).address()));
                assertEquals(n, NativeMemory.floats(f).limit());
            }
        }
        try (Tensor small = Tensor.zeros(justBelow)) {
            assertFalse(PageMemory.isLive(NativeMemory.floats(small).address()), "a tensor under 2 MB uses malloc");
            assertEquals(0, NativeMemory.floats(small).address() % Tensor.ALIGN_BYTES);
        }
    }

    @Test
    void zeroFilledAndEveryElementReadsBackWhatWasWritten() {
        Random r = new Random(5);
        int rows = 1_000;
        int cols = 784;
        try (Tensor t = Tensor.zeros(rows, cols)) {
            float[] all = t.toFloatArray();
            for (float v : all) {
                assertEquals(0f, v);
            }
            for (int k = 0; k < all.length; k++) {
                all[k] = r.nextFloat() - 0.5f;
            }
            t.write(0, all, 0, all.length);
            assertArrayEquals(all, t.toFloatArray());
            float[] last = new float[cols];
            System.arraycopy(all, (rows - 1) * cols, last, 0, cols);
            assertArrayEquals(last, t.row(rows - 1));
            try (Tensor g = t.gatherRows(new int[] {999, 0, 31}); Tensor c = t.copy()) {
                assertArrayEquals(last, g.row(0));
                assertArrayEquals(all, c.toFloatArray());
            }
            t.zero();
            assertArrayEquals(new float[all.length], t.toFloatArray());
        }
    }

    @Test
    void closeFreesOnceAndUseAfterCloseThrows() {
        Tensor t = Tensor.zeros(3 * TWO_MB / 4 + 7);
        long address = NativeMemory.floats(t).address();
        t.setFloat(100, 1.5f);
        assertTrue(PageMemory.isLive(address));
        t.close();
        assertFalse(PageMemory.isLive(address));
        t.close();
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, () -> t.getFloat(100));
        assertThrows(IllegalStateException.class, () -> t.setFloat(100, 2f));
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertThrows(IllegalStateException.class, t::copy);
    }

    @Test
    void aSecondFreeNeverUnmapsTheNextAllocationAtTheSameAddress() {
        // the collector's free after a close is this same deallocate: it must do nothing, even when the address
        // was handed out again in between (an unmap there would take the new owner's memory)
        PageMemory first = new PageMemory(4 * TWO_MB);
        // JavaCPP counts capacity x sizeof against its native memory limit: exactly the bytes asked for
        assertEquals(4 * TWO_MB, first.capacity() * first.sizeof());
        long address = first.address();
        first.close();
        assertFalse(PageMemory.isLive(address));
        PageMemory second = new PageMemory(4 * TWO_MB);
        first.close();
        first.deallocate();
        assertTrue(PageMemory.isLive(second.address()));
        long lastFloat = 4 * TWO_MB / 4 - 1; // the last float of the 4 * 2 MB bytes: the page it lies on is mapped
        FloatPointer floats = new FloatPointer(second).capacity(lastFloat + 1);
        floats.put(lastFloat, 3f);
        assertEquals(3f, floats.get(lastFloat));
        floats.put(0, 4f);
        assertEquals(4f, floats.get(0));
        long secondAddress = second.address();
        second.close();
        assertFalse(PageMemory.isLive(secondAddress));
    }

    @Test
    void impossibleSizesAreRefusedWithOutOfMemoryError() {
        // 4 TB: the system refuses the mapping, or JavaCPP's limit on native memory does (after its collections);
        // either way the error is thrown and nothing stays mapped
        assertThrows(OutOfMemoryError.class, () -> Tensor.zeros(1L << 40));
        assertThrows(OutOfMemoryError.class, () -> Tensor.zeros(1L << 31, 1L << 31));
        try (Tensor t = Tensor.zeros(TWO_MB)) {
            t.setFloat(TWO_MB - 1, 1f); // and the allocator still works
            assertEquals(1f, t.getFloat(TWO_MB - 1));
        }
    }

    @Test
    void manyTensorsAllocatedAndClosedLeaveNothingBehind() {
        Random r = new Random(9);
        List<Long> addresses = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            long n = TWO_MB / 4 + r.nextInt(2_000_000);
            Tensor t = i % 2 == 0 ? Tensor.zeros(n) : Tensor.zerosInt(n);
            long address = (i % 2 == 0 ? NativeMemory.floats(t) : NativeMemory.ints(t)).address();
            if (i % 2 == 0) {
                t.setFloat(n - 1, i);
                assertEquals(i, t.getFloat(n - 1));
            }
            t.close();
            assertFalse(PageMemory.isLive(address), "tensor " + i + " freed by close");
            addresses.add(address);
        }
        assertEquals(200, addresses.size());
    }

    @Test
    void tensorsNeverClosedAreFreedByTheGarbageCollector() throws InterruptedException {
        List<Long> addresses = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            Tensor t = Tensor.zeros(TWO_MB / 4 * (1 + i % 3));
            t.setFloat(0, 1f); // touched: the memory is really there
            addresses.add(NativeMemory.floats(t).address());
        }
        // and some closed ones among them, so that the collector's free follows a close
        for (int i = 0; i < 10; i++) {
            Tensor.zeros(TWO_MB / 4 + 3).close();
        }
        // bounded wait for the collector (a poll, no timing asserted): 2 minutes is far beyond what it needs
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (addresses.stream().anyMatch(PageMemory::isLive) && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertTrue(addresses.stream().noneMatch(PageMemory::isLive),
                "tensors left to the collector are freed (" + addresses.stream().filter(PageMemory::isLive).count()
                        + " of 40 still live)");
    }
}
