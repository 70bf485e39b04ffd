package io.dense4j.service.store;

import io.dense4j.service.job.JobState;
import java.util.List;

/** The rows of the state store, as plain values. */
public final class Records {
    private Records() {}

    /**
     * A data set known to the service, content-addressed.
     *
     * @param location where the server keeps its files (a server-side path; never shown to non-admins)
     * @param details  JSON: how to read it back (source, files and their SHA-256, CSV options, test rows)
     */
    public record Dataset(String sha256, String name, String format, long rows, int features, int classes,
                          List<String> classNames, String location, long sizeBytes, long createdAt, String createdBy,
                          String details) {
        public Dataset {
            classNames = List.copyOf(classNames);
            details = details == null || details.isBlank() ? "{}" : details;
        }

        public Dataset(String sha256, String name, String format, long rows, int features, int classes,
                       List<String> classNames, String location, long sizeBytes, long createdAt, String createdBy) {
            this(sha256, name, format, rows, features, classes, classNames, location, sizeBytes, createdAt, createdBy,
                    "{}");
        }
    }

    /** A job to queue. */
    public record NewJob(String type, String owner, int priority, int cpus, int gpus, String datasetSha256, String spec) {}

    /** A job as stored. Times are epoch milliseconds (null: not yet). */
    public record Job(long id, String type, JobState state, String owner, int priority, int cpus, int gpus,
                      String datasetSha256, String spec, long submittedAt, Long startedAt, Long finishedAt,
                      String server, int attempt, Long leaseExpiresAt, boolean cancelRequested, String progress,
                      String checkpoint, String result, String error) {}

    /**
     * A job as lists show it: the stored columns without the spec, checkpoint and result, with the spec's name and
     * register_as and the result's headline ({@link JobSummaries}; JSON, or null).
     */
    public record JobSummary(long id, String type, JobState state, String owner, int priority, int cpus, int gpus,
                             String datasetSha256, String name, String registerAs, long submittedAt, Long startedAt,
                             Long finishedAt, String server, int attempt, boolean cancelRequested, String progress,
                             String resultSummary, String error) {
        /** The summary of a job read whole. */
        public static JobSummary of(Job j) {
            com.fasterxml.jackson.databind.JsonNode spec = io.dense4j.tune.Json.parse(j.spec());
            return new JobSummary(j.id(), j.type(), j.state(), j.owner(), j.priority(), j.cpus(), j.gpus(),
                    j.datasetSha256(), JobSummaries.name(spec), JobSummaries.registerAs(spec), j.submittedAt(),
                    j.startedAt(), j.finishedAt(), j.server(), j.attempt(), j.cancelRequested(), j.progress(),
                    JobSummaries.ofResult(j.result()), j.error());
        }
    }

    /**
     * The right to run attempt {@code attempt} of a job, held by {@code server} while its lease is renewed. Every
     * write a runner makes names its claim, so a server whose lease expired (and whose job went to another) can
     * no longer change anything: the attempt number is the fencing token.
     */
    public record Claim(long jobId, String server, int attempt) {}

    /** The answer to a heartbeat: whether the lease is still ours, and whether someone asked to cancel. */
    public record Heartbeat(boolean leaseHeld, boolean cancelRequested) {}

    /** One trial of a tune job, as its JSON record. */
    public record Trial(long jobId, int trial, int attempt, String state, String record, long updatedAt) {}

    /** One event of a job's log (state change, epoch metrics, progress, trial result), in order. */
    public record Event(long seq, long jobId, long at, String kind, String payload) {}

    /** What a cancel request did. */
    public enum CancelOutcome { CANCELLED, REQUESTED, ALREADY_FINISHED }
}
