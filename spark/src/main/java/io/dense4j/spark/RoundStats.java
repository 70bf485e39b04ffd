package io.dense4j.spark;

/**
 * One round of a data-parallel fit, as the driver saw it: which round, how much training it held, how long the
 * Spark job took, and how many bytes of numbers it shipped (the broadcast state once per executor that ran a task,
 * the workers' results once each; Spark's own framing and compression aside).
 *
 * @param epoch          0-based epoch
 * @param round          0-based round within the epoch
 * @param rounds         rounds in this epoch
 * @param steps          local steps of the longest worker in this round (the optimizer step advanced by this)
 * @param rows           training rows of all workers together in this round
 * @param workers        workers that trained in this round
 * @param seconds        wall time of the round: broadcast, the Spark job, the average
 * @param broadcastBytes parameters and optimizer buffers broadcast (zero buffers are not shipped)
 * @param resultBytes    parameters and optimizer buffers the workers sent back, all together
 * @param loss           mean training loss of the round's rows (before each step's update)
 */
public record RoundStats(int epoch, int round, int rounds, int steps, long rows, int workers, double seconds,
                         long broadcastBytes, long resultBytes, double loss) {
}
