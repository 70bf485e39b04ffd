package io.dense4j.service;

/** A training token is at its storage quota ({@link StorageQuota}): HTTP 507, nothing kept. */
public final class StorageQuotaException extends RuntimeException {
    public StorageQuotaException(String message) {
        super(message, null, false, false);
    }
}
