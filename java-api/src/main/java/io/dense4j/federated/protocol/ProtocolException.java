package io.dense4j.federated.protocol;

/**
 * A federated-protocol message was refused: malformed, too large, for another task, round or phase, replayed, from
 * the wrong client, or failing a cryptographic check. The message says what and where; {@link #code()} is what an
 * HTTP layer maps to a status. The refused message changes nothing on the side that refused it.
 */
public class ProtocolException extends RuntimeException {
    /** Why a message was refused, with the HTTP status an HTTP binding should answer with. */
    public enum Code {
        /** Malformed frame, missing or mistyped field, wrong vector length, bad key or ciphertext. */
        BAD_MESSAGE(400),
        /** The authenticated client is not enrolled, not selected, or not the client the message names. */
        FORBIDDEN(403),
        /** Unknown task. */
        NOT_FOUND(404),
        /** Message for another round or phase, or for a round that is already over. */
        WRONG_STATE(409),
        /** The same submission was already accepted (a replay or a retry of a delivered message). */
        DUPLICATE(409),
        /** A declared size is above the configured limit, or more bytes than declared. */
        TOO_LARGE(413),
        /** The round or task was aborted (too few clients, budget spent, a peer misbehaved). */
        ABORTED(410);

        private final int httpStatus;

        Code(int httpStatus) {
            this.httpStatus = httpStatus;
        }

        public int httpStatus() {
            return httpStatus;
        }
    }

    private final Code code;

    public ProtocolException(Code code, String message) {
        super(message);
        this.code = code;
    }

    public ProtocolException(Code code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
