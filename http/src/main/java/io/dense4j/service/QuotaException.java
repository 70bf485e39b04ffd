package io.dense4j.service;

/** A caller is over one of its limits (queued jobs, open event streams): try again later (HTTP 429). */
public final class QuotaException extends RuntimeException {
    public QuotaException(String message) {
        super(message, null, false, false);
    }
}
