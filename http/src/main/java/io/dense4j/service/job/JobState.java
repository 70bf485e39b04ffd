package io.dense4j.service.job;

import java.util.Locale;
import java.util.Set;

/**
 * The states of a job and the only transitions between them:
 * <pre>
 *   queued  -> running     a server claimed it (its lease starts)
 *   queued  -> cancelled   cancelled before it started
 *   running -> succeeded   it finished and its result is recorded (only the holder of the current lease can say so)
 *   running -> failed      it failed, or its server died more often than the attempt limit allows
 *   running -> cancelled   cancelled while running (stops within one chunk of steps)
 *   running -> queued      its server died (lease expired): it will resume from its last checkpoint
 * </pre>
 * succeeded, failed and cancelled are final.
 */
public enum JobState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    public String dbName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static JobState fromDb(String s) {
        return valueOf(s.toUpperCase(Locale.ROOT));
    }

    public boolean terminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }

    public Set<JobState> next() {
        return switch (this) {
            case QUEUED -> Set.of(RUNNING, CANCELLED);
            case RUNNING -> Set.of(SUCCEEDED, FAILED, CANCELLED, QUEUED);
            default -> Set.of();
        };
    }

    public boolean canBecome(JobState to) {
        return next().contains(to);
    }

    /** Throws when {@code from -> to} is not a transition of the machine. */
    public static void check(JobState from, JobState to) {
        if (!from.canBecome(to)) {
            throw new IllegalStateException("a " + from.dbName() + " job cannot become " + to.dbName());
        }
    }
}
