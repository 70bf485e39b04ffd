package io.dense4j.service.scheduler;

/** A job that could never run on this server's capacity, whatever else finishes: refused at submission. */
public final class ImpossibleRequestException extends IllegalArgumentException {
    public ImpossibleRequestException(String message) {
        super(message);
    }
}
