package io.dense4j.http;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
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
 * coming. Since the queue is served oldest first, a runner runs only the requests ahead of its own.
 * The queue is bounded so that overload is answered quickly (503) instead of piling up latency.
 * A request that gives up (timeout, interrupt) leaves the queue and is never run: abandoned work used to stay
 * queued, computed for nobody, its rows held outside the body budget.
 */
final class DynamicBatcher implements AutoCloseable {

    /** One request: its rows, its answer, and its thread (woken when answered or when a runner slot frees). */
    private record Job(float[][] rows, CompletableFuture<float[][]> result, Thread waiter) {
        void complete(float[][] out) {
            result.complete(out);
            LockSupport.unpark(waiter);
        }

        void fail(Throwable e) {
            result.completeExceptionally(e);
            LockSupport.unpark(waiter);
        }
    }

    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final Function<float[][], float[][]> model;
    private final ServerConfig.BatchingConfig cfg;
    private final IntConsumer batchSizeObserver;
    private final BlockingQueue<Job> queue;
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
        this.queue = new ArrayBlockingQueue<>(cfg.queueCapacity());
        this.runners = new Semaphore(cfg.threads());
    }

    /** Requests currently waiting. */
    int queueDepth() {
        return queue.size();
    }

    /**
     * Runs {@code rows} as part of a batch and waits for the result.
     *
     * @throws ApiException 503 when the queue is full or the batch does not finish in time
     */
    float[][] submit(float[][] rows) {
        Job job = new Job(rows, new CompletableFuture<>(), Thread.currentThread());
        if (closed || !queue.offer(job)) {
            throw ApiException.unavailable(name + " is overloaded: " + cfg.queueCapacity()
                    + " requests are already queued; retry later");
        }
        long deadline = System.nanoTime() + cfg.timeout().toNanos();
        try {
            while (!job.result.isDone()) {
                if (runners.tryAcquire()) {
                    runUntilAnswered(job);
                    continue;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    abandon(job);
                    if (!job.result.isDone() || job.result.isCancelled()) {
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
                    throw ApiException.unavailable("request interrupted while waiting for " + name);
                }
            }
            return job.result.get();
        } catch (InterruptedException e) {
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
     * A request that gave up: out of the queue, and never run if a runner already took it. Its thread may have been
     * the one a leaving runner woke to take over: it passes that on.
     */
    private void abandon(Job job) {
        queue.remove(job);
        job.result.cancel(false);
        wakeOldest();
    }

    /** Wakes the thread of the oldest queued request, to run it if a runner slot is free. */
    private void wakeOldest() {
        Job next = queue.peek();
        if (next != null) {
            LockSupport.unpark(next.waiter);
        }
    }

    /**
     * Holding a runner slot: runs batches, oldest requests first, until {@code mine} is answered, then hands the
     * slot on by waking the thread of the request now oldest in the queue. A request queued just before the
     * release is woken too, or picked up by the runner that holds the slot then: someone always runs it.
     */
    private void runUntilAnswered(Job mine) {
        try {
            while (!mine.result.isDone()) {
                List<Job> batch = takeBatch();
                if (batch.isEmpty()) {
                    break; // ours was taken by another runner, which will answer it
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
     * thread is interrupted: the jobs already taken must still run, or nobody would answer them).
     */
    private List<Job> takeBatch() {
        List<Job> batch = new ArrayList<>();
        Job first = queue.poll();
        if (first == null) {
            return batch;
        }
        batch.add(first);
        int rows = first.rows.length;
        long deadline = System.nanoTime() + cfg.maxQueueDelay().toNanos();
        while (rows < cfg.maxBatchSize()) {
            Job next = queue.peek();
            if (next == null) {
                long wait = deadline - System.nanoTime();
                if (wait <= 0 || Thread.currentThread().isInterrupted()) {
                    break;
                }
                try {
                    next = queue.poll(wait, TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt(); // seen by the request's own loop once this batch has run
                    break;
                }
                if (next == null) {
                    break;
                }
                if (rows + next.rows.length > cfg.maxBatchSize()) {
                    // too big to join: run it alone next (rare: only multi-row requests near the limit)
                    run(List.of(next));
                    continue;
                }
            } else if (rows + next.rows.length > cfg.maxBatchSize()) {
                break; // it stays first in the queue for the next batch
            } else {
                queue.poll();
            }
            batch.add(next);
            rows += next.rows.length;
        }
        return batch;
    }

    private void run(List<Job> batch) {
        if (batch.stream().anyMatch(j -> j.result.isDone())) { // given up while it was taken: not computed
            batch = batch.stream().filter(j -> !j.result.isDone()).toList();
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
