package io.dense4j.http;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * Groups the requests of one model version into batches by flat combining: a request thread that finds no
 * batch running becomes the runner, takes the oldest waiting requests (waiting at most
 * {@code maxQueueDelay} for more) up to {@code maxBatchSize} rows, runs the model once, hands each request its
 * rows of the result, and repeats until its own request is answered. Requests that arrive while a batch runs wait
 * for the next one. No thread hand-off happens when the server is idle (a lone request runs on its own
 * thread at once), and batches form by themselves under load. At most {@code threads} batches run at once.
 * A runner leaves as soon as its own request is answered, waking the thread of the oldest request still queued to
 * take over: a runner that drained the queue for everyone held its own answer back as long as requests kept
 * coming. Since the queue is served oldest first, a runner runs only the requests ahead of its own. A request
 * another runner has taken into its batch only waits for its answer (or its deadline): it never runs a batch of
 * later requests meanwhile, nor spins for a free runner slot.
 * The queue is bounded so that overload is answered quickly (503) instead of piling up latency.
 * A request that gives up (timeout, interrupt) leaves the queue and is never run: abandoned work used to stay
 * queued, computed for nobody, its rows held outside the body budget.
 */
final class DynamicBatcher implements AutoCloseable {

    /** One request: its rows, its answer, its thread (woken when answered or when a runner slot frees). */
    private static final class Job {
        final float[][] rows;
        final CompletableFuture<float[][]> result = new CompletableFuture<>();
        final Thread waiter;
        /** Taken into a batch by a runner (set under the queue's lock): that runner answers it. */
        volatile boolean taken;

        Job(float[][] rows, Thread waiter) {
            this.rows = rows;
            this.waiter = waiter;
        }

        void complete(float[][] out) {
            result.complete(out);
            LockSupport.unpark(waiter);
        }

        void fail(Throwable e) {
            result.completeExceptionally(e);
            LockSupport.unpark(waiter);
        }

        /** Given up by its request, or answered: not to be computed. */
        boolean done() {
            return result.isDone();
        }
    }

    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final Function<float[][], float[][]> model;
    private final ServerConfig.BatchingConfig cfg;
    private final IntConsumer batchSizeObserver;
    /** Waiting requests, oldest first; peeked and taken under {@link #lock}, so a peeked job is the one taken. */
    private final ArrayDeque<Job> queue = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final Semaphore runners;
    private volatile boolean closed;
    private final String name;

    /**
     * @param name              for messages ("model 'm' version 3")
     * @param model             the batch function (the model's thread-safe predict)
     * @param batchSizeObserver called with the row count of every batch run (metrics)
     */
    DynamicBatcher(String name, Function<float[][], float[][]> model, ServerConfig.BatchingConfig cfg,
                   IntConsumer batchSizeObserver) {
        this.name = name;
        this.model = model;
        this.cfg = cfg;
        this.batchSizeObserver = batchSizeObserver;
        this.runners = new Semaphore(cfg.threads());
    }

    /** Requests currently waiting. */
    int queueDepth() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Runs {@code rows} as part of a batch and waits for the result.
     *
     * @throws ApiException 503 when the queue is full or the batch does not finish in time
     */
    float[][] submit(float[][] rows) {
        Job job = new Job(rows, Thread.currentThread());
        lock.lock();
        try {
            if (closed || queue.size() >= cfg.queueCapacity()) {
                throw ApiException.unavailable(name + " is overloaded: " + cfg.queueCapacity()
                        + " requests are already queued; retry later");
            }
            queue.addLast(job);
            arrived.signalAll(); // a runner waiting maxQueueDelay for more rows
        } finally {
            lock.unlock();
        }
        long deadline = System.nanoTime() + cfg.timeout().toNanos();
        try {
            while (!job.done()) {
                if (!job.taken && runners.tryAcquire()) {
                    runUntilTaken(job);
                    continue;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    abandon(job);
                    if (!job.done() || job.result.isCancelled()) {
                        throw ApiException.unavailable(name + " did not answer within " + cfg.timeout().toMillis() + " ms");
                    }
                    break; // answered just as it gave up
                }
                // woken when answered, when a runner leaves with this request oldest in the queue, or at the deadline;
                // and at least every MAX_PARK_NANOS, so that no lost wake-up can hold a request to its deadline
                LockSupport.parkNanos(this, Math.min(left, MAX_PARK_NANOS));
                if (Thread.interrupted()) {
                    abandon(job);
                    Thread.currentThread().interrupt();
                    if (!job.done() || job.result.isCancelled()) {
                        throw ApiException.unavailable("request interrupted while waiting for " + name);
                    }
                    break; // answered before the interrupt was seen: the answer stands
                }
            }
            return job.result.get();
        } catch (InterruptedException e) { // not thrown: the future is done here
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("request interrupted while waiting for " + name);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(c);
        }
    }

    /**
     * A request that gave up: out of the queue, and not computed if a runner took it and has not run it yet. Its
     * thread may have been the one a leaving runner woke to take over: it passes that on.
     */
    private void abandon(Job job) {
        lock.lock();
        try {
            if (!job.taken) {
                queue.remove(job);
            }
        } finally {
            lock.unlock();
        }
        job.result.cancel(false);
        wakeOldest();
    }

    /** Wakes the thread of the oldest queued request, to run it if a runner slot is free. */
    private void wakeOldest() {
        Job next;
        lock.lock();
        try {
            next = queue.peekFirst();
        } finally {
            lock.unlock();
        }
        if (next != null) {
            LockSupport.unpark(next.waiter);
        }
    }

    /**
     * Holding a runner slot: runs batches, oldest requests first, until {@code mine} is taken into one (by this
     * runner, which then has answered it, or by another, which will), then hands the slot on by waking the thread of
     * the request now oldest in the queue. A request queued just before the release is woken too, or picked up by
     * the runner that holds the slot then: someone always runs it.
     */
    private void runUntilTaken(Job mine) {
        try {
            while (!mine.taken) {
                List<Job> batch = takeBatch();
                if (batch.isEmpty()) {
                    break; // nothing queued: ours was taken meanwhile
                }
                run(batch);
            }
        } finally {
            runners.release();
            wakeOldest();
        }
    }

    /**
     * The oldest queued jobs up to maxBatchSize rows, waiting at most maxQueueDelay for more (not at all once the
     * thread is interrupted: the jobs already taken must still run, or nobody would answer them). A job that does not
     * fit stays first in the queue for the next batch.
     */
    private List<Job> takeBatch() {
        List<Job> batch = new ArrayList<>();
        lock.lock();
        try {
            int rows = 0;
            long deadline = System.nanoTime() + cfg.maxQueueDelay().toNanos();
            while (rows < cfg.maxBatchSize()) {
                Job next = queue.peekFirst();
                if (next == null) {
                    long wait = deadline - System.nanoTime();
                    if (batch.isEmpty() || wait <= 0 || Thread.currentThread().isInterrupted()) {
                        break;
                    }
                    try {
                        arrived.awaitNanos(wait);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt(); // seen by the request's own loop once this batch has run
                        break;
                    }
                    continue;
                }
                if (!batch.isEmpty() && rows + next.rows.length > cfg.maxBatchSize()) {
                    break;
                }
                queue.pollFirst();
                next.taken = true;
                batch.add(next);
                rows += next.rows.length;
            }
        } finally {
            lock.unlock();
        }
        return batch;
    }

    private void run(List<Job> batch) {
        if (batch.stream().anyMatch(Job::done)) { // given up while it was taken: not computed
            batch = batch.stream().filter(j -> !j.done()).toList();
            if (batch.isEmpty()) {
                return;
            }
        }
        try {
            float[][] input;
            int rows = 0;
            for (Job j : batch) {
                rows += j.rows.length;
            }
            if (batch.size() == 1) {
                input = batch.get(0).rows;
            } else {
                input = new float[rows][];
                int at = 0;
                for (Job j : batch) {
                    System.arraycopy(j.rows, 0, input, at, j.rows.length); // row references, no data copy
                    at += j.rows.length;
                }
            }
            float[][] out = model.apply(input);
            batchSizeObserver.accept(rows);
            int at = 0;
            for (Job j : batch) {
                float[][] mine = new float[j.rows.length][];
                System.arraycopy(out, at, mine, 0, mine.length);
                at += mine.length;
                j.complete(mine);
            }
        } catch (RuntimeException | Error e) {
            for (Job j : batch) {
                j.fail(e);
            }
        }
    }

    /** Stops taking requests; those already queued are still run by their own request threads. */
    @Override
    public void close() {
        closed = true;
    }
}
