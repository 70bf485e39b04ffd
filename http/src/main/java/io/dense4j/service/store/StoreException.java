package io.dense4j.service.store;

/** The state store failed or refused; {@link #kind()} says how a server should answer. */
public class StoreException extends RuntimeException {
    public enum Kind { NOT_FOUND, CONFLICT, ERROR }

    private final Kind kind;

    public StoreException(String message) {
        this(Kind.ERROR, message, null);
    }

    public StoreException(String message, Throwable cause) {
        this(Kind.ERROR, message, cause);
    }

    public StoreException(Kind kind, String message) {
        this(kind, message, null);
    }

    private StoreException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
