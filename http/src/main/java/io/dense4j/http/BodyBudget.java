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
 * and small requests queue behind them). One client (ClientShares' address key) holds at most a quarter of it at
 * once, beyond its first request: the budget is reserved from the declared length, before the bytes arrive, so a
 * few idle connections declaring maximum bodies took it all, and every other client's body got 503.
 */
final class BodyBudget {
    private static final String ATTR = "dense4j.body-budget";
    private static final String CLIENT_ATTR = "dense4j.body-budget.client";
    private static final long WAIT_MS = 2000;
    /** Requests that may wait for room at once. */
    static final int MAX_WAITING = 8;

    private final Semaphore kib;
    private final long totalBytes;
    private final AtomicInteger waiting = new AtomicInteger();
    /** KiB each client holds now (no entry: none). */
    private final java.util.concurrent.ConcurrentHashMap<String, Integer> heldBy = new java.util.concurrent.ConcurrentHashMap<>();
    private final int perClientKib;

    BodyBudget(long totalBytes) {
        this.totalBytes = totalBytes;
        int total = (int) Math.min(Integer.MAX_VALUE, Math.max(1, totalBytes >> 10));
        this.kib = new Semaphore(total);
        this.perClientKib = Math.max(1, total / 4);
    }

    /** Reserves {@code bytes} for this request (once per request); 503 when the budget stays exhausted. */
    void reserve(Context ctx, long bytes) {
        // at most the whole budget, so a maximum-size request can always run alone
        int permits = (int) Math.max(1, Math.min(Math.max(1, totalBytes >> 10), (bytes + 1023) >> 10));
        String client = ctx.attribute(CLIENT_ATTR);
        if (client == null) {
            client = ClientShares.clientOf(new java.net.InetSocketAddress(ctx.req().getRemoteAddr(),
                    ctx.req().getRemotePort()));
        }
        boolean[] mine = new boolean[1];
        heldBy.compute(client, (c, n) -> {
            int h = n == null ? 0 : n;
            mine[0] = h == 0 || h + permits <= perClientKib; // its first request always (up to the whole budget)
            return mine[0] ? h + permits : n;
        });
        if (!mine[0]) {
            ctx.header("Retry-After", Integer.toString(ConnectionGuard.RETRY_AFTER_SECONDS));
            throw ApiException.unavailable("this client's requests in progress hold its share of the server's memory "
                    + "for request bodies; retry when they are done");
        }
        if (!kib.tryAcquire(permits) && !awaitRoom(permits)) {
            giveBack(client, permits);
            ctx.header("Retry-After", Integer.toString(ConnectionGuard.RETRY_AFTER_SECONDS));
            throw ApiException.unavailable("the server is busy decoding other large requests; retry shortly");
        }
        Integer held = ctx.attribute(ATTR);
        ctx.attribute(ATTR, (held == null ? 0 : held) + permits);
        ctx.attribute(CLIENT_ATTR, client);
    }

    private void giveBack(String client, int permits) {
        heldBy.computeIfPresent(client, (c, n) -> n - permits <= 0 ? null : n - permits);
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
            String client = ctx.attribute(CLIENT_ATTR);
            if (client != null) {
                giveBack(client, held);
            }
        }
    }
}
