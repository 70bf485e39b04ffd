package io.dense4j.service.job;

import io.dense4j.data.TensorAllocation;
import io.dense4j.tensor.Tensor;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * Runs a task on a thread of lowered priority (a job's kernel-thread factory: SCHED_IDLE by default) while the
 * calling thread waits at its own priority and runs, for the task, the native allocations it hands over
 * ({@link TensorAllocation}): the bulk of the work (a data set's hashing and decoding) yields the CPU to inference,
 * and the lowered thread never holds the process-wide native-allocation lock that request threads take. The two
 * threads share only this call's own queue.
 */
final class LoweredCall {
    private static final Runnable DONE = () -> { };

    private LoweredCall() {}

    /**
     * Runs {@code task} on a new thread from {@code factory} and returns its result, or throws what it threw. Waits
     * for the task to end even when interrupted (its allocations need this thread), then restores the interrupt.
     */
    static <T> T call(ThreadFactory factory, Function<TensorAllocation, T> task) {
        BlockingQueue<Runnable> handed = new LinkedBlockingQueue<>();
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        TensorAllocation onCaller = allocation -> {
            FutureTask<Tensor> f = new FutureTask<>(allocation::get);
            handed.add(f);
            try {
                return f.get();
            } catch (ExecutionException e) {
                throw rethrow(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CancellationException("interrupted while waiting for an allocation");
            }
        };
        Thread worker = factory.newThread(() -> {
            try {
                result.set(task.apply(onCaller));
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                handed.add(DONE);
            }
        });
        worker.start();
        boolean interrupted = false;
        for (Runnable r; ; ) {
            try {
                r = handed.take();
            } catch (InterruptedException e) {
                interrupted = true;
                continue;
            }
            if (r == DONE) {
                break;
            }
            r.run();
        }
        try {
            worker.join();
        } catch (InterruptedException e) {
            interrupted = true;
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (failure.get() != null) {
            throw rethrow(failure.get());
        }
        return result.get();
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
