package io.dense4j.registry;

/**
 * A registry operation that could not be done. {@link #kind()} says why, so callers (the CLI, the
 * HTTP server) can map it to an exit code or a status without parsing the message.
 */
public class RegistryException extends RuntimeException {

    /** Why an operation failed. */
    public enum Kind {
        /** The model, version or alias does not exist. */
        NOT_FOUND,
        /** The operation contradicts the registry's state (e.g. deleting an aliased version). */
        CONFLICT,
        /** A name, version or argument is malformed. */
        INVALID,
        /** The file system failed. */
        IO
    }

    private final Kind kind;

    public RegistryException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public RegistryException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
