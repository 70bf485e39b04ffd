package io.dense4j.http;

import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.server.internal.HttpConnection;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One accepted TCP connection as {@link ConnectionGuard} sees it: the client it belongs to, whether it is on
 * probation, and where its current request stands (the phase, and since when), which decides its deadline.
 */
final class GuardedConnection {
    enum Phase {
        /** Owes the headers of a request: since the connection opened (TLS handshake included), or since the
         *  first byte of the next request on a kept-alive connection. */
        HEADERS,
        /** Kept alive between requests; nothing of the next one has arrived. */
        IDLE,
        /** The headers are in; the body is arriving (no thread is held while it does). */
        BODY,
        /** The request is in: the application is answering it. */
        HANDLING,
        /** An upload's body streams in while the application handles it: it must keep the minimum upload rate. */
        STREAMING,
        /** Its body deadline passed or it was shed: the request is being failed with an HTTP answer. */
        FAILING,
        /** Answered, and the connection ends (probation, or a response with {@code Connection: close}). */
        CLOSING
    }

    final EndPoint socket;
    final ClientShares.Client client;
    final boolean probation;
    private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.HEADERS);
    private volatile long since;
    private volatile long bytesAtIdle;
    private volatile HttpConnection http;
    private final AtomicBoolean shed = new AtomicBoolean();
    private volatile boolean handshaking;

    GuardedConnection(EndPoint socket, ClientShares.Client client, boolean probation, long now) {
        this.socket = socket;
        this.client = client;
        this.probation = probation;
        this.since = now;
    }

    /** True while its TLS handshake is in progress. */
    boolean handshaking() {
        return handshaking;
    }

    void handshaking(boolean v) {
        handshaking = v;
    }

    /** Marks this connection as shed to make room; false if it already was. */
    boolean markShed() {
        return shed.compareAndSet(false, true);
    }

    boolean wasShed() {
        return shed.get();
    }

    Phase phase() {
        return phase.get();
    }

    /** System.nanoTime() when the current phase began. */
    long since() {
        return since;
    }

    HttpConnection http() {
        return http;
    }

    void http(HttpConnection h) {
        http = h;
    }

    void enter(Phase p, long now) {
        since = now;
        phase.set(p);
    }

    /** Moves from {@code from} to {@code to} unless another thread moved it first. */
    boolean move(Phase from, Phase to, long now) {
        if (phase.compareAndSet(from, to)) {
            since = now;
            return true;
        }
        return false;
    }

    /** Bytes received on this connection (the request's, under TLS decrypted), 0 before HTTP is set up. */
    long bytesIn() {
        HttpConnection h = http;
        return h == null ? 0 : h.getBytesIn();
    }

    private volatile long bytesAtMark;

    /** Starts a window of the upload rate check: now, with the bytes received so far. */
    void markWindow(long now) {
        bytesAtMark = bytesIn();
        since = now;
    }

    /** Bytes received since {@link #markWindow}. */
    long bytesSinceMark() {
        return bytesIn() - bytesAtMark;
    }

    /** The response is sent: a probation connection closes, another waits for its next request. */
    void answered(long now) {
        HttpConnection h = http;
        bytesAtIdle = h == null ? 0 : h.getBytesIn();
        enter(probation ? Phase.CLOSING : Phase.IDLE, now);
    }

    /**
     * True once the next request has begun on a kept-alive connection: bytes arrived since the last response,
     * or the parser holds part of a request that was pipelined behind the last one.
     */
    boolean nextRequestBegun() {
        HttpConnection h = http;
        return h != null && (h.getBytesIn() > bytesAtIdle || !h.getParser().isIdle());
    }

    /** True when the server has finished its side (a response with Connection: close was sent). */
    boolean outputShutdown() {
        HttpConnection h = http;
        EndPoint ep = h != null ? h.getEndPoint() : socket;
        return ep != null && ep.isOutputShutdown();
    }

    /** How long a connection that has sent something counts as sending its request, not stalling. */
    static final long ARRIVING_NANOS = 1_000_000_000L;

    /**
     * Which connection to close first to make room, lower first (the longest in its phase first within an order),
     * or -1 for one that must not be shed. Those that lose nothing come first; then a body in flight, which can
     * still be answered (503); then one that has not delivered its headers, which can only be closed: one that
     * sent nothing, or stalled, before one that started sending within the last second (in a burst the server
     * accepts connections faster than it reads them, and a probe's request may be among them).
     */
    int shedOrder(long now) {
        if (shed.get() || (socket != null && !socket.isOpen())) {
            return -1; // leaving already
        }
        return switch (phase.get()) {
            case CLOSING -> 0;                     // already answered
            case IDLE -> outputShutdown() ? 0 : 1; // answered and ending, or kept alive (clients reconnect)
            case BODY -> 2;                        // a request in flight, answered 503 when shed
            case HEADERS -> now - since < ARRIVING_NANOS && requestArriving() ? 4 : 3;
            case HANDLING, STREAMING, FAILING -> -1;
        };
    }

    /** The lowest order {@link #shedOrder} can give this connection, without asking the kernel. */
    int leastShedOrder(long now) {
        return phase.get() == Phase.HEADERS && !shed.get() && (socket == null || socket.isOpen()) ? 3 : shedOrder(now);
    }

    /** True when bytes arrived for this connection: read by the server, or waiting in the kernel to be read. */
    private boolean requestArriving() {
        Connection c = socket == null ? null : socket.getConnection();
        if (c != null && c.getBytesIn() > 0) {
            return true;
        }
        if (socket instanceof SocketChannelEndPoint s) {
            try {
                return s.getChannel().socket().getInputStream().available() > 0;
            } catch (IOException | RuntimeException closed) {
                return false;
            }
        }
        return false;
    }
}
