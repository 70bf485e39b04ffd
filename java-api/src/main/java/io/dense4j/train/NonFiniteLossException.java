package io.dense4j.train;

/** Training stopped because the loss became NaN or infinite; the offending update was not applied. */
public class NonFiniteLossException extends ArithmeticException {
    public NonFiniteLossException(String message) {
        super(message);
    }
}
