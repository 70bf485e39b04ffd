package io.dense4j.http;

import io.javalin.http.Context;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * Bounds the uploads (model files, data sets) that stream in at once. Their bodies are too large to be received
 * before a thread is given to them, so each holds a thread for as long as it takes to arrive; without a bound,
 * slow uploads from a few addresses (each within its own share of threads) could hold every thread of the
 * server, and inference and health checks would wait behind them. One client (as {@link ClientShares} names
 * them) may hold a quarter of the slots, so that one slow uploader leaves room for others. A request over either
 * bound gets 503 with Retry-After at once; a body small enough to arrive before its thread needs no slot. How
 * slowly an upload may arrive is bounded by {@link ConnectionGuard} (the minimum upload rate).
 */
final class UploadSlots {
    private final Semaphore free;
    private final int slots;
    private final int perClient;
    private final Map<String, Integer> held = new ConcurrentHashMap<>();

    UploadSlots(int slots) {
        this.slots = slots;
        this.perClient = Math.max(1, slots / 4);
        this.free = new Semaphore(slots);
    }

    /**
     * Takes a slot for this upload: the client it was taken for (give it back with {@link #give} when the handler
     * returns), or null if the body needs none; 503 when every slot, or the client's part of them, is taken.
     */
    String take(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared >= 0 && declared <= ServerConnectors.EAGER_BODY_BYTES) {
            return null; // received in full before the handler ran
        }
        String client = ClientShares.clientOf(new InetSocketAddress(ctx.req().getRemoteAddr(), ctx.req().getRemotePort()));
        boolean[] mine = new boolean[1];
        held.compute(client, (c, n) -> {
            int h = n == null ? 0 : n;
            mine[0] = h < perClient;
            return mine[0] ? h + 1 : (n == null ? null : n);
        });
        if (!mine[0]) {
            throw refused(ctx, "this client is sending " + perClient + " uploads, as many as one client may at once");
        }
        if (!free.tryAcquire()) {
            release(client);
            throw refused(ctx, "the server is receiving " + slots + " uploads, as many as it takes at once");
        }
        return client;
    }

    void give(String client) {
        free.release();
        release(client);
    }

    private void release(String client) {
        held.computeIfPresent(client, (c, n) -> n > 1 ? n - 1 : null);
    }

    private static ApiException refused(Context ctx, String why) {
        ctx.header("Retry-After", Integer.toString(ConnectionGuard.RETRY_AFTER_SECONDS));
        return ApiException.unavailable(why + "; retry shortly");
    }

    /** Uploads streaming in now. */
    int inProgress() {
        return slots - free.availablePermits();
    }
}
