package io.dense4j.service.federated;

import java.util.concurrent.ConcurrentHashMap;

/**
 * A token bucket per key (a client token's hash): {@code burst} requests at once, then {@code perSecond}. Keeps one
 * small entry per key seen recently; {@link #forgetIdle} drops the others.
 */
final class RateLimiter {
    private final double burst;
    private final double perSecond;
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

    private static final class Bucket {
        double tokens;
        long lastNanos;

        Bucket(double tokens, long now) {
            this.tokens = tokens;
            this.lastNanos = now;
        }
    }

    RateLimiter(double burst, double perSecond) {
        if (!(burst >= 1) || !(perSecond > 0)) {
            throw new IllegalArgumentException("a rate limit needs a burst >= 1 and a positive rate");
        }
        this.burst = burst;
        this.perSecond = perSecond;
    }

    /** Takes one request's token: 0 when allowed, else the milliseconds until one is available. */
    long acquire(String key) {
        long now = System.nanoTime();
        Bucket b = buckets.computeIfAbsent(key, k -> new Bucket(burst, now));
        synchronized (b) {
            b.tokens = Math.min(burst, b.tokens + (now - b.lastNanos) / 1e9 * perSecond);
            b.lastNanos = now;
            if (b.tokens >= 1) {
                b.tokens -= 1;
                return 0;
            }
            return (long) Math.ceil((1 - b.tokens) / perSecond * 1000);
        }
    }

    /** Drops buckets untouched for {@code idleNanos} (they would be full again anyway). */
    void forgetIdle(long idleNanos) {
        long now = System.nanoTime();
        buckets.entrySet().removeIf(e -> {
            synchronized (e.getValue()) {
                return now - e.getValue().lastNanos > idleNanos;
            }
        });
    }

    double perSecond() {
        return perSecond;
    }

    double burst() {
        return burst;
    }
}
