package io.dense4j.spark;

/**
 * Seeds of the random streams a data-parallel fit draws (each partition's shuffle per epoch, its dropout masks per
 * round): a pure function of the fit's seed and the coordinates, so that a task recomputed by Spark, on any
 * executor, draws exactly what the first attempt drew.
 */
final class Seeds {
    private Seeds() {}

    /** SplitMix64's finalizer over the seed and each coordinate in turn: distinct inputs give unrelated outputs. */
    static long mix(long seed, long... coordinates) {
        long h = mix64(seed ^ 0x243F6A8885A308D3L);
        for (long c : coordinates) {
            h = mix64(h ^ mix64(c + 0x9E3779B97F4A7C15L));
        }
        return h;
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
