package io.dense4j.http;

/**
 * An error answered to the client as {@code {"error": message}} with {@link #status()}. The message
 * is written for the client: it says what was wrong, never how the server is built.
 */
public final class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String message) {
        super(message, null, false, false); // no stack trace: these are expected outcomes, and cheap
        this.status = status;
    }

    public int status() {
        return status;
    }

    public static ApiException badRequest(String message) {
        return new ApiException(400, message);
    }

    public static ApiException notFound(String message) {
        return new ApiException(404, message);
    }

    public static ApiException unavailable(String message) {
        return new ApiException(503, message);
    }
}
