package io.dense4j.http;

import java.util.concurrent.atomic.AtomicBoolean;

/** Lifecycle flags shared by the handlers: whether new requests are still welcome. */
final class ServerState {
    private final AtomicBoolean accepting = new AtomicBoolean(true);

    boolean accepting() {
        return accepting.get();
    }

    /** Starts draining: health/ready turns 503 so load balancers stop sending traffic. */
    void stopAccepting() {
        accepting.set(false);
    }
}
