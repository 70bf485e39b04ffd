package io.dense4j.http;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * Groups the requests of one model version into batches by flat combining: a request thread that finds no
 * batch running becomes the runner, takes the oldest waiting requests (waiting at most
 * {@code maxQueueDelay} for more) up to {@code maxBatchSize} rows, runs the model once, hands each request its
 * rows of the result, and repeats while requests are queued. Requests that arrive while a batch runs wait
 * for the next one. No thread hand-off happens when the server is idle (a lone request runs on its own
 * thread at once), and batches form by themselves under load. At most {@code threads} batches run at once.
 * The queue is bounded so that overload is answered quickly (503) instead of piling up latency.
 * A request that gives up (timeout, interrupt) leaves the queue and is never run: abandoned work used to stay
 * queued, computed for nobody, its rows held outside the body budget.
 */
final class DynamicBatcher implements AutoCloseable {

    private record Job(float[][] rows, CompletableFuture<float[][]> result) {
    }

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
        Job job = new Job(rows, new CompletableFuture<>());
        if (closed || !queue.offer(job)) {
            throw ApiException.unavailable(name + " is overloaded: " + cfg.queueCapacity()
                    + " requests are already queued; retry later");
        }
        try {
            runQueued();
            return job.result.get(cfg.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            abandon(job);
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("request interrupted while waiting for " + name);
        } catch (TimeoutException e) {
            abandon(job);
            throw ApiException.unavailable(name + " did not answer within " + cfg.timeout().toMillis() + " ms");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(c);
        }
    }

    /** A request that gave up: out of the queue, and never run if a runner already took it. */
    private void abandon(Job job) {
        queue.remove(job);
        job.result.cancel(false);
    }

    /**
     * Runs batches while requests are queued and a runner slot is free. The re-check after releasing the
     * slot closes the race with a request queued just before the release: someone always picks it up.
     */
    private void runQueued() throws InterruptedException {
        do {
            if (!runners.tryAcquire()) {
                return; // a running batch will take our job, or its runner's re-check will
            }
            try {
                List<Job> batch;
                while (!(batch = takeBatch()).isEmpty()) {
                    run(batch);
                }
            } finally {
                runners.release();
            }
        } while (!queue.isEmpty());
    }

    /** The oldest queued jobs up to maxBatchSize rows, waiting at most maxQueueDelay for more. */
    private List<Job> takeBatch() throws InterruptedException {
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
                if (wait <= 0 || (next = queue.poll(wait, TimeUnit.NANOSECONDS)) == null) {
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
                j.result.complete(mine);
            }
        } catch (RuntimeException | Error e) {
            for (Job j : batch) {
                j.result.completeExceptionally(e);
            }
        }
    }

    /** Stops taking requests; those already queued are still run by their own request threads. */
    @Override
    public void close() {
        closed = true;
    }
}
