package io.dense4j.data;

/**
 * A data file (IDX, CSV) is malformed: wrong magic number, truncated, inconsistent counts, a value that is
 * not a number. The message always names the file and, where it applies, the line and column.
 *
 * <p>Unchecked on purpose: a malformed file is not something a caller can retry, and the loaders that throw
 * it already declare {@link java.io.IOException} for genuine I/O failures.
 */
public class DataFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DataFormatException(String message) {
        super(message);
    }

    public DataFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
