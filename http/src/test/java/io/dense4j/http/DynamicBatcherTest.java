package io.dense4j.http;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class DynamicBatcherTest {

    /** A "model" that returns each row's first feature and its row count, and records batch sizes. */
    private static float[][] echo(float[][] rows, List<Integer> sizes) {
        sizes.add(rows.length);
        float[][] out = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            out[i] = new float[] {rows[i][0], rows.length};
        }
        return out;
    }

    /** A "model" that says it runs, then holds its batch until released, and returns the rows as they came. */
    private static float[][] held(float[][] rows, CountDownLatch running, CountDownLatch release) {
        running.countDown();
        try {
            release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return rows;
    }

    @Test
    void concurrentRequestsAreBatchedAndEachGetsItsOwnRows() throws Exception {
        List<Integer> sizes = new CopyOnWriteArrayList<>();
        ServerConfig.BatchingConfig cfg = new ServerConfig.BatchingConfig(true, 8, Duration.ofMillis(50), 100, 1, Duration.ofSeconds(5));
        List<Integer> observed = new CopyOnWriteArrayList<>();
        try (DynamicBatcher b = new DynamicBatcher("test", rows -> echo(rows, sizes), cfg, observed::add)) {
            ExecutorService pool = Executors.newFixedThreadPool(16);
            List<Future<float[][]>> results = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                float v = i;
                results.add(pool.submit(() -> b.submit(new float[][] {{v, 0}})));
            }
            for (int i = 0; i < 32; i++) {
                float[][] r = results.get(i).get(10, TimeUnit.SECONDS);
                assertEquals(1, r.length);
                assertEquals(i, r[0][0]); // its own row, not a neighbour's
            }
            pool.shutdownNow();
        }
        assertEquals(32, sizes.stream().mapToInt(Integer::intValue).sum());
        assertTrue(sizes.stream().anyMatch(s -> s > 1), "some requests should share a batch: " + sizes);
        assertTrue(sizes.stream().allMatch(s -> s <= 8), "max batch size exceeded: " + sizes);
        assertEquals(sizes, observed);
    }

    /**
     * A request that gave up (timed out while another batch ran) leaves the queue and is never computed: abandoned
     * work used to stay queued, run later for nobody, its rows held outside the server's body budget.
     */
    @Test
    void aRequestThatTimedOutIsNeverRun() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch running = new CountDownLatch(1);
        List<Float> computed = new CopyOnWriteArrayList<>();
        ServerConfig.BatchingConfig cfg = new ServerConfig.BatchingConfig(true, 1, Duration.ZERO, 10, 1,
                Duration.ofMillis(300));
        try (DynamicBatcher b = new DynamicBatcher("model 'm' version 1", rows -> {
            for (float[] r : rows) {
                computed.add(r[0]);
            }
            return held(rows, running, release);
        }, cfg, n -> { })) {
            ExecutorService pool = Executors.newFixedThreadPool(2);
            Future<?> first = pool.submit(() -> {
                try {
                    return b.submit(new float[][] {{1}});
                } catch (ApiException e) {
                    return null; // it outlives its own timeout while the model is held: fine here
                }
            });
            assertTrue(running.await(5, TimeUnit.SECONDS));
            ApiException e = assertThrows(ApiException.class, () -> b.submit(new float[][] {{2}}));
            assertEquals(503, e.status());
            assertEquals(0, b.queueDepth(), "the abandoned request left the queue");
            release.countDown();
            first.get(5, TimeUnit.SECONDS);
            assertEquals(3f, b.submit(new float[][] {{3}})[0][0], "the batcher goes on");
            assertEquals(List.of(1f, 3f), computed, "request 2 was never computed");
            pool.shutdownNow();
        }
    }

    /**
     * With two runner slots, a request that another runner took into its (held) batch waits for that batch or its
     * own deadline, even once a slot frees: it used to loop taking the free slot, finding nothing queued and letting
     * go, at full CPU and without ever looking at its deadline. The freed slot serves a new request meanwhile.
     */
    @Test
    void aRequestInAnotherRunnersBatchKeepsItsDeadlineWhenASlotFrees() throws Exception {
        CountDownLatch releaseX = new CountDownLatch(1);
        CountDownLatch runningX = new CountDownLatch(1);
        CountDownLatch releaseY = new CountDownLatch(1);
        CountDownLatch runningY = new CountDownLatch(1);
        ServerConfig.BatchingConfig cfg = new ServerConfig.BatchingConfig(true, 2, Duration.ofSeconds(5), 10, 2,
                Duration.ofMillis(400));
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (DynamicBatcher b = new DynamicBatcher("model 'm' version 1", rows -> {
            for (float[] r : rows) {
                if (r[0] == 10) {
                    return held(rows, runningX, releaseX); // request X holds slot A
                }
                if (r[0] == 1) {
                    return held(rows, runningY, releaseY); // the batch of requests 1 and 2 holds slot B
                }
            }
            return rows;
        }, cfg, n -> { })) {
            // X fills a batch (2 rows) and is held: slot A busy
            Future<float[][]> x = pool.submit(() -> b.submit(new float[][] {{10}, {10}}));
            assertTrue(runningX.await(5, TimeUnit.SECONDS));
            // request 1 takes slot B and waits (up to 5 s) for a second row; request 2, finding both slots busy,
            // queues and is taken into request 1's batch, which is then held
            CountDownLatch submitting = new CountDownLatch(1);
            pool.submit(() -> {
                submitting.countDown();
                try {
                    return b.submit(new float[][] {{1}});
                } catch (ApiException e) {
                    return null; // it outlives its own timeout while the model is held: fine here
                }
            });
            assertTrue(submitting.await(5, TimeUnit.SECONDS));
            Thread.sleep(100);
            long t0 = System.nanoTime();
            java.util.concurrent.atomic.AtomicLong gaveUpAt = new java.util.concurrent.atomic.AtomicLong();
            Future<float[][]> second = pool.submit(() -> {
                try {
                    return b.submit(new float[][] {{2}});
                } finally {
                    gaveUpAt.set(System.nanoTime());
                }
            });
            assertTrue(runningY.await(5, TimeUnit.SECONDS), "requests 1 and 2 run as one held batch");
            releaseX.countDown(); // slot A frees while request 2 waits in the held batch
            assertEquals(10f, x.get(5, TimeUnit.SECONDS)[0][0]);
            assertEquals(3f, b.submit(new float[][] {{3}, {3}})[0][0], "the freed slot serves a new request");
            var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> second.get(5, TimeUnit.SECONDS));
            long waitedMs = TimeUnit.NANOSECONDS.toMillis(gaveUpAt.get() - t0);
            assertTrue(e.getCause() instanceof ApiException a && a.status() == 503
                    && a.getMessage().contains("did not answer within 400 ms"), String.valueOf(e.getCause()));
            assertTrue(waitedMs < 4000, "request 2 gave up at its deadline, not when the batch ended: " + waitedMs + " ms");
        } finally {
            releaseX.countDown();
            releaseY.countDown();
            pool.shutdownNow();
        }
    }

    @Test
    void fullQueueAnswers503() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch running = new CountDownLatch(1);
        ServerConfig.BatchingConfig cfg = new ServerConfig.BatchingConfig(true, 1, Duration.ZERO, 1, 1, Duration.ofSeconds(5));
        try (DynamicBatcher b = new DynamicBatcher("model 'm' version 1", rows -> held(rows, running, release),
                cfg, n -> { })) {
            ExecutorService pool = Executors.newFixedThreadPool(2);
            Future<float[][]> first = pool.submit(() -> b.submit(new float[][] {{1}}));
            assertTrue(running.await(5, TimeUnit.SECONDS)); // the worker is busy with the first
            Future<float[][]> second = pool.submit(() -> b.submit(new float[][] {{2}}));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20); // a bound, not a wait: exits once queued
            while (b.queueDepth() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            ApiException e = assertThrows(ApiException.class, () -> b.submit(new float[][] {{3}}));
            assertEquals(503, e.status());
            assertTrue(e.getMessage().contains("overloaded"), e.getMessage());
            release.countDown();
            assertEquals(1f, first.get(5, TimeUnit.SECONDS)[0][0]);
            assertEquals(2f, second.get(5, TimeUnit.SECONDS)[0][0]);
            pool.shutdownNow();
        }
    }

    @Test
    void modelErrorsReachEveryRequestOfTheBatch() {
        ServerConfig.BatchingConfig cfg = ServerConfig.BatchingConfig.defaults();
        try (DynamicBatcher b = new DynamicBatcher("t", rows -> {
            throw new IllegalArgumentException("row 0 has 2 features, the model takes 4");
        }, cfg, n -> { })) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.submit(new float[][] {{1, 2}}));
            assertTrue(e.getMessage().contains("features"));
        }
    }

    /**
     * Under sustained load the request whose thread became the runner is answered once its own batch has run: it
     * used to run batches for everyone until the queue was empty, so its answer waited as long as requests kept
     * coming. The others are still served after it leaves (the slot is handed on).
     */
    @Test
    void aRunnerIsAnsweredWhileLoadGoesOnAndTheOthersAreStillServed() throws Exception {
        ServerConfig.BatchingConfig cfg = new ServerConfig.BatchingConfig(true, 1, Duration.ZERO, 100, 1, Duration.ofSeconds(20));
        CountDownLatch firstRunning = new CountDownLatch(1);
        CountDownLatch othersQueued = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicInteger served = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        try (DynamicBatcher b = new DynamicBatcher("t", rows -> {
            if (firstRunning.getCount() > 0) {
                held(rows, firstRunning, othersQueued); // the first batch waits until the load is queued
            } else {
                try {
                    Thread.sleep(2); // a batch takes longer than an answered client takes to send its next request
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return rows;
        }, cfg, n -> { })) {
            ExecutorService pool = Executors.newFixedThreadPool(5);
            Future<Boolean> first = pool.submit(() -> {
                b.submit(new float[][] {{1}});
                return stop.get(); // false: answered while the load still ran
            });
            assertTrue(firstRunning.await(10, TimeUnit.SECONDS));
            List<Future<?>> load = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                load.add(pool.submit(() -> {
                    while (!stop.get()) {
                        b.submit(new float[][] {{2}});
                        served.incrementAndGet();
                    }
                    return null;
                }));
            }
            while (b.queueDepth() < 4) {
                Thread.sleep(1);
            }
            othersQueued.countDown();
            boolean stoppedFirst;
            try {
                stoppedFirst = first.get(5, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                stoppedFirst = true; // still draining the queue for the others
            }
            int before = served.get();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (served.get() < before + 200 && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            int after = served.get();
            stop.set(true);
            assertTrue(!stoppedFirst, "the runner's own request was answered only once the load stopped");
            assertTrue(after >= before + 200, "the others were served after the runner left: " + (after - before));
            for (Future<?> f : load) {
                f.get(10, TimeUnit.SECONDS);
            }
            pool.shutdownNow();
        }
    }
}
