package io.dense4j.http;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * Groups the requests of one model version into batches: a worker takes the oldest waiting request,
 * adds whatever else is queued (waiting at most {@code maxQueueDelay} for more) up to
 * {@code maxBatchSize} rows, runs the model once, and hands each request its rows of the result.
 * The queue is bounded so that overload is answered quickly (503) instead of piling up latency.
 */
final class DynamicBatcher implements AutoCloseable {

    private record Job(float[][] rows, CompletableFuture<float[][]> result) {
    }

    private final Function<float[][], float[][]> model;
    private final ServerConfig.BatchingConfig cfg;
    private final IntConsumer batchSizeObserver;
    private final BlockingQueue<Job> queue;
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean closed;
    private final String name;

    /**
     * @param name              for thread names and messages ("model 'm' version 3")
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
        for (int i = 0; i < cfg.threads(); i++) {
            Thread t = new Thread(this::work, "batcher-" + name.replace(' ', '-') + "-" + i);
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
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
            return job.result.get(cfg.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("request interrupted while waiting for " + name);
        } catch (TimeoutException e) {
            throw ApiException.unavailable(name + " did not answer within " + cfg.timeout().toMillis() + " ms");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(c);
        }
    }

    private void work() {
        List<Job> batch = new ArrayList<>();
        Job carry = null; // a job that did not fit into the previous batch goes first into the next
        long delayNanos = cfg.maxQueueDelay().toNanos();
        while (!closed || carry != null || !queue.isEmpty()) {
            try {
                Job first = carry != null ? carry : queue.poll(50, TimeUnit.MILLISECONDS);
                carry = null;
                if (first == null) {
                    continue;
                }
                batch.clear();
                batch.add(first);
                int rows = first.rows.length;
                long deadline = System.nanoTime() + delayNanos;
                while (rows < cfg.maxBatchSize()) {
                    long wait = deadline - System.nanoTime();
                    Job next = wait > 0 ? queue.poll(wait, TimeUnit.NANOSECONDS) : queue.poll();
                    if (next == null) {
                        break;
                    }
                    if (rows + next.rows.length > cfg.maxBatchSize()) {
                        carry = next;
                        break;
                    }
                    batch.add(next);
                    rows += next.rows.length;
                }
                run(batch, rows);
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private void run(List<Job> batch, int rows) {
        try {
            float[][] input;
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

    /**
     * Stops taking requests; the workers finish what is queued, then exit. Does not wait for them:
     * it is called by the last request of a retired version, which should not pay for the shutdown.
     */
    @Override
    public void close() {
        closed = true;
        workers.forEach(Thread::interrupt);
    }
}
