package io.dense4j.tensor;

import io.dense4j.nativelib.CpuKernels;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.bytedeco.javacpp.Pointer;

/**
 * A large tensor's memory, from our native page allocator ({@code d4j_alloc_pages}: zero-filled, 2 MB aligned, in
 * 2 MB pages where the system grants them). Why: the training step reads random rows of a training set much
 * larger than the caches, and in 4 KB pages nearly every row costs a TLB miss (benchmarks/RESULTS.md "Session 7").
 *
 * <p>Owned explicitly: {@link #close()} frees it at once, the garbage collector frees it if it was never closed
 * (JavaCPP's deallocator thread, through {@link Free}), and the memory is unmapped exactly once whichever comes first
 * or both. Views made with JavaCPP's copy constructor free it through this pointer.
 */
final class PageMemory extends Pointer {
    /** Bytes from which a tensor takes its memory here: one whole 2 MB page. */
    static final long MIN_BYTES = 2L << 20;

    /** Addresses allocated here and not yet freed, for the tests (leaks, double frees). */
    private static final Set<Long> LIVE = ConcurrentHashMap.newKeySet();

    /**
     * @throws OutOfMemoryError when the system has not the memory
     */
    PageMemory(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative size " + bytes);
        }
        Pointer memory = CpuKernels.d4j_alloc_pages(bytes);
        if (memory == null || memory.isNull()) {
            throw new OutOfMemoryError("cannot allocate " + bytes + " bytes of native memory for a tensor");
        }
        LIVE.add(memory.address());
        address = memory.address();
        capacity(bytes); // elements are bytes (sizeof): JavaCPP counts them against its maxBytes limit
        deallocator(new Free(memory, bytes));
    }

    /**
     * One byte per element, as for a plain Pointer: JavaCPP counts capacity() x sizeof() against its limit on native
     * memory (maxBytes), and would take a subclass's elements for pointers (8 bytes), refusing a training set 8 times
     * too early.
     */
    @Override
    public int sizeof() {
        return 1;
    }

    /** Whether memory allocated here at {@code address} is still allocated. */
    static boolean isLive(long address) {
        return LIVE.contains(address);
    }

    /**
     * Frees the memory once: later calls (a close after a close, the collector after a close) do nothing. Holds no
     * reference to the {@link PageMemory}, so that it can become unreachable.
     */
    private static final class Free implements Deallocator {
        private Pointer memory;
        private final long bytes;

        Free(Pointer memory, long bytes) {
            this.memory = memory;
            this.bytes = bytes;
        }

        @Override
        public synchronized void deallocate() {
            if (memory != null) {
                LIVE.remove(memory.address()); // before the unmap: the address may be handed out again at once
                CpuKernels.d4j_free_pages(memory, bytes);
                memory = null;
            }
        }
    }
}
