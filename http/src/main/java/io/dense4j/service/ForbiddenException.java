package io.dense4j.service;

/** The caller may not do this, whatever it retries (HTTP 403): e.g. register versions of a model it did not create. */
public final class ForbiddenException extends RuntimeException {
    public ForbiddenException(String message) {
        super(message, null, false, false);
    }
}
