package io.dense4j.service.job;

import java.util.concurrent.CancellationException;

/** The job was cancelled; thrown from inside training at the next chunk boundary. */
public final class JobCancelledException extends CancellationException {
    public JobCancelledException() {
        super("cancelled");
    }
}
