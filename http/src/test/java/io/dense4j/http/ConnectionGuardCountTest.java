package io.dense4j.http;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The connection cap's count through Jetty's accept callbacks, in the order Jetty 12.1 makes them (ManagedSelector's
 * Accept: onAccepting on the acceptor thread, then onAccepted, then createEndPoint, whose onOpened admits the
 * connection): a channel is counted from onAccepting until it closes, never twice and never zero times in between.
 */
class ConnectionGuardCountTest {
    private static ConnectionGuard guard(int cap) {
        return new ConnectionGuard(ServerConfig.ClientLimits.defaults().withMaxConnections(cap), cap);
    }

    @Test
    void anAcceptedChannelStaysCountedUntilItIsAdmittedOrFails() throws IOException {
        ConnectionGuard guard = guard(120);
        try (SocketChannel a = SocketChannel.open(); SocketChannel b = SocketChannel.open()) {
            guard.onAccepting(a);
            guard.onAccepting(b);
            assertEquals(2, guard.cappedConnections());
            // Jetty calls onAccepted BEFORE it creates the endpoint: the channel is not admitted yet, and must still
            // count (taken out here, the cap read one under and the acceptor could take one over it)
            guard.onAccepted(a);
            assertEquals(2, guard.cappedConnections());
            guard.onAcceptFailed(b, new IOException("register failed"));
            assertEquals(1, guard.cappedConnections());
            guard.onAcceptFailed(a, new IOException("endpoint failed"));
            guard.onAcceptFailed(a, new IOException("reported twice"));
            assertEquals(0, guard.cappedConnections());
        }
    }

    @Test
    void aChannelClosedWithoutACallbackStopsCountingAtTheNextSweep() throws Exception {
        ConnectionGuard guard = guard(120);
        guard.start();
        try (SocketChannel open = SocketChannel.open()) {
            SocketChannel closed = SocketChannel.open();
            guard.onAccepting(open);
            guard.onAccepting(closed);
            closed.close(); // as Jetty's selector does with a pending accept when it stops: no callback follows
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (guard.cappedConnections() > 1 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(1, guard.cappedConnections(), "the closed channel still counted");
            assertTrue(open.isOpen());
        } finally {
            guard.stop();
        }
    }
}
