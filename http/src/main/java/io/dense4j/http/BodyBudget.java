package io.dense4j.http;

import io.javalin.http.Context;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the request bytes held in memory by all requests at once. A JSON body becomes a tree several times its
 * size while it is decoded, so without a bound many concurrent maximum-size bodies could exhaust the heap; with
 * it, a request that would go over waits briefly for others to finish, then gets 503. Small requests (the common
 * case) take a few KiB of it and never wait in practice. Counted in KiB; released when the request's handler
 * returns. Each waiting request holds a thread, so only a few may wait at once; the others get 503 at once (a
 * flood of large bodies from many addresses would otherwise park the server's threads here while health checks
 * and small requests queue behind them).
 */
final class BodyBudget {
    private static final String ATTR = "dense4j.body-budget";
    private static final long WAIT_MS = 2000;
    /** Requests that may wait for room at once. */
    static final int MAX_WAITING = 8;

    private final Semaphore kib;
    private final long totalBytes;
    private final AtomicInteger waiting = new AtomicInteger();

    BodyBudget(long totalBytes) {
        this.totalBytes = totalBytes;
        this.kib = new Semaphore((int) Math.min(Integer.MAX_VALUE, Math.max(1, totalBytes >> 10)));
    }

    /** Reserves {@code bytes} for this request (once per request); 503 when the budget stays exhausted. */
    void reserve(Context ctx, long bytes) {
        // at most the whole budget, so a maximum-size request can always run alone
        int permits = (int) Math.max(1, Math.min(Math.max(1, totalBytes >> 10), (bytes + 1023) >> 10));
        if (!kib.tryAcquire(permits) && !awaitRoom(permits)) {
            ctx.header("Retry-After", Integer.toString(ConnectionGuard.RETRY_AFTER_SECONDS));
            throw ApiException.unavailable("the server is busy decoding other large requests; retry shortly");
        }
        Integer held = ctx.attribute(ATTR);
        ctx.attribute(ATTR, (held == null ? 0 : held) + permits);
    }

    /** Waits a little for room, unless {@link #MAX_WAITING} requests wait already. */
    private boolean awaitRoom(int permits) {
        if (waiting.incrementAndGet() > MAX_WAITING) {
            waiting.decrementAndGet();
            return false;
        }
        try {
            return kib.tryAcquire(permits, WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("interrupted while waiting to read the request");
        } finally {
            waiting.decrementAndGet();
        }
    }

    /** Gives back what the request reserved (called when its handler returns, however it returns). */
    void release(Context ctx) {
        Integer held = ctx.attribute(ATTR);
        if (held != null && held > 0) {
            ctx.attribute(ATTR, 0);
            kib.release(held);
        }
    }
}
