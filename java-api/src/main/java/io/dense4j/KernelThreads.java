package io.dense4j;

import java.util.Objects;
import java.util.concurrent.ThreadFactory;

/**
 * A scope in which every {@link ThreadTeam} opened by this thread, or by a thread it starts while the scope is open,
 * runs its kernels on a thread made by the scope's factory (see {@link Dense4J#kernelThreads}). Close it on the
 * thread that opened it; threads started meanwhile keep the factory they inherited.
 */
public final class KernelThreads implements AutoCloseable {
    private static final InheritableThreadLocal<ThreadFactory> FACTORY = new InheritableThreadLocal<>();

    private final Thread owner;
    private final ThreadFactory previous;
    private boolean closed;

    KernelThreads(ThreadFactory factory) {
        this.owner = Thread.currentThread();
        this.previous = FACTORY.get();
        FACTORY.set(Objects.requireNonNull(factory, "factory"));
    }

    /** The factory of the calling thread's scope, or null outside any. */
    static ThreadFactory factory() {
        return FACTORY.get();
    }

    @Override
    public void close() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a kernel-thread scope belongs to the thread that opened it ("
                    + owner.getName() + "), not " + Thread.currentThread().getName());
        }
        if (!closed) {
            closed = true;
            if (previous == null) {
                FACTORY.remove();
            } else {
                FACTORY.set(previous);
            }
        }
    }
}
