package io.dense4j.service.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.tensor.Tensor;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadFactory;
import org.junit.jupiter.api.Test;

/** A task runs on the lowered thread; the native allocations it hands over run on the calling thread. */
class LoweredCallTest {
    static final ThreadFactory LOWERED = r -> new Thread(r, "lowered-test");

    @Test
    void theTaskRunsOnTheFactorysThreadAndItsAllocationsOnTheCaller() {
        List<String> allocatedOn = new CopyOnWriteArrayList<>();
        String[] taskOn = new String[1];
        float[] read = LoweredCall.call(LOWERED, allocation -> {
            taskOn[0] = Thread.currentThread().getName();
            try (Tensor t = allocation.allocate(() -> {
                allocatedOn.add(Thread.currentThread().getName());
                return Tensor.zeros(2, 3);
            })) {
                t.write(0, new float[] {1, 2, 3, 4, 5, 6}, 0, 6); // the task fills it: a plain copy
                return t.row(1);
            }
        });
        assertEquals("lowered-test", taskOn[0]);
        assertEquals(List.of(Thread.currentThread().getName()), allocatedOn);
        assertEquals(List.of(4f, 5f, 6f), List.of(read[0], read[1], read[2]));
    }

    @Test
    void whatTheTaskOrAnAllocationThrowsReachesTheCaller() {
        IllegalStateException boom = new IllegalStateException("boom");
        assertSame(boom, assertThrows(IllegalStateException.class, () -> LoweredCall.call(LOWERED, a -> {
            throw boom;
        })));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> LoweredCall.call(LOWERED,
                a -> a.allocate(() -> Tensor.zeros(-1, 3))));
        assertTrue(bad.getMessage() != null);
        OutOfMemoryError oom = new OutOfMemoryError("test");
        assertSame(oom, assertThrows(OutOfMemoryError.class, () -> LoweredCall.call(LOWERED, a -> a.allocate(() -> {
            throw oom;
        }))));
    }

    @Test
    void anInterruptedCallerStillServesTheTaskToItsEndAndKeepsTheInterrupt() {
        Thread caller = Thread.currentThread();
        try {
            int got = LoweredCall.call(LOWERED, allocation -> {
                caller.interrupt(); // while the caller waits for this task
                try (Tensor t = allocation.allocate(() -> Tensor.zerosInt(4))) {
                    return (int) t.size();
                }
            });
            assertEquals(4, got);
            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt is kept for the caller");
        } finally {
            Thread.interrupted();
        }
    }
}
