package io.dense4j.service.scheduler;

/**
 * A job as the scheduler sees it.
 *
 * @param id       job id
 * @param owner    who submitted it (the per-owner limit counts running jobs by this)
 * @param priority higher runs first
 * @param seq      submission order (lower was submitted earlier); breaks priority ties
 * @param cpus     CPU threads it needs (>= 1)
 * @param gpus     whole GPUs it needs (>= 0)
 */
public record JobRequest(long id, String owner, int priority, long seq, int cpus, int gpus) {
    public JobRequest {
        if (cpus < 1) {
            throw new IllegalArgumentException("a job needs at least 1 CPU thread, asked for " + cpus);
        }
        if (gpus < 0) {
            throw new IllegalArgumentException("GPUs cannot be negative, asked for " + gpus);
        }
        owner = owner == null ? "" : owner;
    }
}
