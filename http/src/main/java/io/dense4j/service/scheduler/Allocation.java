package io.dense4j.service.scheduler;

import java.util.List;

/** What a started job holds until it finishes or is cancelled: CPU threads and the ids of its GPUs. */
public record Allocation(long jobId, String owner, int cpus, List<Integer> gpus) {
    public Allocation {
        gpus = List.copyOf(gpus);
    }
}
