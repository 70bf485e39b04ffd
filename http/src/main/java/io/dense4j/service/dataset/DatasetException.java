package io.dense4j.service.dataset;

/** A data set request that cannot be done; {@link #kind()} says how a server answers it. */
public final class DatasetException extends RuntimeException {
    public enum Kind { INVALID, TOO_LARGE, NOT_FOUND, CONFLICT, FORBIDDEN,
        /** The file system holding data sets is (nearly) full. */
        NO_SPACE }

    private final Kind kind;

    public DatasetException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    static DatasetException invalid(String message) {
        return new DatasetException(Kind.INVALID, message);
    }
}
