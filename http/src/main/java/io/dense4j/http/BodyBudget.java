package io.dense4j.http;

import io.javalin.http.Context;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Bounds the request bytes held in memory by all requests at once. A JSON body becomes a tree several times its
 * size while it is decoded, so without a bound many concurrent maximum-size bodies could exhaust the heap; with
 * it, a request that would go over waits briefly for others to finish, then gets 503. Small requests (the common
 * case) take a few KiB of it and never wait in practice. Counted in KiB; released when the request's handler
 * returns.
 */
final class BodyBudget {
    private static final String ATTR = "dense4j.body-budget";
    private static final long WAIT_MS = 2000;

    private final Semaphore kib;
    private final long totalBytes;

    BodyBudget(long totalBytes) {
        this.totalBytes = totalBytes;
        this.kib = new Semaphore((int) Math.min(Integer.MAX_VALUE, Math.max(1, totalBytes >> 10)));
    }

    /** Reserves {@code bytes} for this request (once per request); 503 when the budget stays exhausted. */
    void reserve(Context ctx, long bytes) {
        // at most the whole budget, so a maximum-size request can always run alone
        int permits = (int) Math.max(1, Math.min(Math.max(1, totalBytes >> 10), (bytes + 1023) >> 10));
        try {
            if (!kib.tryAcquire(permits, WAIT_MS, TimeUnit.MILLISECONDS)) {
                throw ApiException.unavailable("the server is busy decoding other large requests; retry shortly");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiException.unavailable("interrupted while waiting to read the request");
        }
        Integer held = ctx.attribute(ATTR);
        ctx.attribute(ATTR, (held == null ? 0 : held) + permits);
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
