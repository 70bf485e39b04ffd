package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.util.function.Supplier;

/**
 * Where a data reader allocates its native tensors. A native allocation (JavaCPP) takes a process-wide lock, and may
 * run a garbage collection while holding it, that every thread allocating native memory takes too: a reader running
 * at a lowered priority (a server job's data load, at SCHED_IDLE) hands its few allocations to a thread of normal
 * priority, so that a starved thread never holds that lock while request threads wait for it. Readers fill the
 * tensors they get through plain copies, which take no such lock.
 */
@FunctionalInterface
public interface TensorAllocation {
    /** Runs {@code allocation} (one tensor's allocation, and its initial copy) and returns the tensor. */
    Tensor allocate(Supplier<Tensor> allocation);

    /** Allocates on the calling thread. */
    TensorAllocation DIRECT = Supplier::get;
}
