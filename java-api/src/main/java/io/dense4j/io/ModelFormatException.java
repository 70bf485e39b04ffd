package io.dense4j.io;

/**
 * A model file (safetensors) is malformed: bad header length, invalid JSON, unknown dtype, inconsistent
 * offsets, truncated data or trailing garbage. The message always names the file.
 *
 * <p>Unchecked, like {@link io.dense4j.data.DataFormatException}: a corrupt file cannot be fixed by retrying;
 * genuine I/O failures stay {@link java.io.IOException}s.
 */
public class ModelFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
