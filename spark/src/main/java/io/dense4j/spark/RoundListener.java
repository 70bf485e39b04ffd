package io.dense4j.spark;

/** Receives each round's {@link RoundStats} on the driver, after the round's average (benchmarks, monitoring). */
@FunctionalInterface
public interface RoundListener {
    void onRound(RoundStats stats);
}
