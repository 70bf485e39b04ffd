package io.dense4j.service.job;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.tune.TrialRecord;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What a {@link JobRunner} needs from whoever runs it (the job service, or a test): where to write, whether to stop,
 * where to report, and the job's last checkpoint. Implementations are called from the runner's threads (trials run
 * on several): they must be thread-safe.
 */
public interface JobContext {
    long jobId();

    /** Who submitted the job (recorded as the registry actor). */
    String owner();

    /** A private directory for the job's checkpoints and model files (kept across attempts). */
    Path workDir();

    /**
     * Which attempt of the job this is (1 for the first; the store counts claims). The files an attempt writes in
     * {@link #workDir} carry it: an attempt whose lease was lost may still be writing when the next one starts.
     */
    default int attempt() {
        return 1;
    }

    /** Checked between chunks of training steps: true stops the job ({@link JobCancelledException}). */
    boolean cancelRequested();

    void event(JobEvent event);

    /** A tuning trial changed (started, reached a rung, failed). */
    default void trial(TrialRecord trial) {}

    /**
     * The last record of each tuning trial of this job's earlier attempts (the store's), to resume its search from:
     * empty on a first attempt.
     */
    default java.util.List<TrialRecord> pastTrials() {
        return java.util.List.of();
    }

    /** The checkpoint of an earlier attempt of this job, to resume from. */
    Optional<ObjectNode> lastCheckpoint();

    /**
     * A new checkpoint is on disk: {"path": ..., "epochs": n} (and "parent", "stopped_early"): a few bytes whatever
     * the epoch count. The metrics of its epochs are the job's "epoch" events ({@link #pastEvents}).
     */
    void checkpointed(ObjectNode checkpoint);

    /** The payloads of this job's earlier events of one kind, from every attempt, oldest first. */
    default java.util.List<ObjectNode> pastEvents(String kind) {
        return java.util.List.of();
    }

    /** The CPU threads the scheduler gave the job: its kernels run on a private team of that many. */
    default int cpus() {
        return 1;
    }

    /** The GPU ids the scheduler gave the job (empty: CPU). */
    default java.util.List<Integer> gpus() {
        return java.util.List.of();
    }
}
