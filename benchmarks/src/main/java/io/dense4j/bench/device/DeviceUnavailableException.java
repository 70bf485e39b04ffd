package io.dense4j.bench.device;

/** The device cannot run here (no GPU, no binding, a shape it does not take); the message says why. */
public final class DeviceUnavailableException extends RuntimeException {
    public DeviceUnavailableException(String reason) {
        super(reason);
    }
}
