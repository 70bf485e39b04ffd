package io.dense4j.http;

import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Invocable;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Jetty's HTTP/1.1 connections, ended by a lingering close. Jetty 12.1 closes a connection at once when its
 * request's body was not read to the end (a request refused before its body: 413, 401, 403...), right after
 * the response went out; the client is usually still sending, the kernel answers those bytes with a reset, and
 * the client's TCP stack drops the response it had already received ("connection reset" instead of the 413).
 * So, as Apache httpd and nginx do: once the response is sent and the server's side is shut down (FIN), what
 * the client still sends is read and dropped until it closes its side, then the connection closes cleanly.
 * No thread waits for it: the reads run on the selector's read-readiness callbacks. Bounded by
 * {@link #MAX_DRAINED_BYTES}, and in time by {@link ConnectionGuard}, which cuts a connection that is answered
 * and ending after {@link ConnectionGuard#LINGER_MS} ({@link ConnectionGuard#SHORT_LINGER_MS} once shed, or while the
 * server stops), and sheds such connections first.
 */
final class LingeringConnectionFactory extends HttpConnectionFactory {
    /** The most a client may send after its answer before the connection is cut (Tomcat swallows 2 MiB). */
    static final long MAX_DRAINED_BYTES = 16L << 20;
    /** Bytes dropped per read-readiness callback, so that a fast sender shares the selector with the others. */
    private static final int BYTES_PER_CALLBACK = 256 << 10;
    private static final ThreadLocal<ByteBuffer> SCRATCH = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(16 << 10));

    private final ConnectionGuard guard;

    /** @param guard the connector's guard: it bounds how long a connection lingers, and counts them */
    LingeringConnectionFactory(HttpConfiguration config, ConnectionGuard guard) {
        super(config);
        this.guard = guard;
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        return super.newConnection(connector, new LingeringEndPoint(endPoint));
    }

    /** The endpoint beneath the lingering one, or {@code ep} itself. */
    static EndPoint beneath(EndPoint ep) {
        return ep instanceof LingeringEndPoint l ? l.unwrap() : ep;
    }

    /**
     * The endpoint an HTTP connection sees: the transport's, except that a close after the response is sent
     * becomes a lingering close. From then on the HTTP connection sees it closed.
     */
    private final class LingeringEndPoint implements EndPoint, EndPoint.Wrapper {
        private final EndPoint transport;
        private final AtomicBoolean closed = new AtomicBoolean();
        private final Callback drain = Callback.from(Invocable.InvocationType.NON_BLOCKING, this::drain, this::cut);
        private long drained; // read by one drain at a time: fill interest runs one callback at a time

        LingeringEndPoint(EndPoint transport) {
            this.transport = transport;
        }

        @Override
        public EndPoint unwrap() {
            return transport;
        }

        @Override
        public void close(Throwable cause) {
            if (!closed.compareAndSet(false, true)) {
                return; // lingering already (or closed)
            }
            // only once the answer is out and only while the client may still be sending; else as asked
            if (transport.isOpen() && transport.isOutputShutdown() && !transport.isInputShutdown() && guard.mayLinger(transport)) {
                // a read the HTTP connection asked for is still pending: its callback drains (see Forward)
                transport.tryFillInterested(drain);
            } else {
                transport.close(cause);
            }
        }

        /** Reads and drops what arrived; closes at the client's end, or past the byte bound. */
        private void drain() {
            ByteBuffer scratch = SCRATCH.get();
            try {
                for (int read = 0; read < BYTES_PER_CALLBACK; ) {
                    BufferUtil.clear(scratch);
                    int n = transport.fill(scratch);
                    if (n < 0) {
                        transport.close(); // the client closed its side: nothing is left unread, no reset
                        return;
                    }
                    if (n == 0) {
                        transport.fillInterested(drain);
                        return;
                    }
                    read += n;
                    drained += n;
                    guard.drained(n);
                    if (drained > MAX_DRAINED_BYTES) {
                        transport.close(new IOException("more than " + MAX_DRAINED_BYTES + " bytes sent after the answer"));
                        return;
                    }
                }
                transport.fillInterested(drain); // more is waiting: the next round after the selector's other work
            } catch (IOException | RuntimeException e) {
                cut(e);
            }
        }

        private void cut(Throwable why) {
            transport.close(why);
        }

        @Override
        public boolean isOpen() {
            return !closed.get() && transport.isOpen();
        }

        @Override
        public boolean isInputShutdown() {
            return closed.get() || transport.isInputShutdown();
        }

        @Override
        public boolean isOutputShutdown() {
            return closed.get() || transport.isOutputShutdown();
        }

        @Override
        public int fill(ByteBuffer buffer) throws IOException {
            return closed.get() ? -1 : transport.fill(buffer);
        }

        @Override
        public boolean flush(ByteBuffer... buffers) throws IOException {
            if (closed.get()) {
                throw new EofException("closed");
            }
            return transport.flush(buffers);
        }

        @Override
        public void write(Callback callback, ByteBuffer... buffers) {
            if (closed.get()) {
                callback.failed(new EofException("closed"));
            } else {
                transport.write(callback, buffers);
            }
        }

        @Override
        public void fillInterested(Callback callback) {
            if (closed.get()) {
                callback.failed(new EofException("closed"));
            } else {
                transport.fillInterested(new Forward(callback));
            }
        }

        @Override
        public boolean tryFillInterested(Callback callback) {
            if (closed.get()) {
                callback.failed(new EofException("closed"));
                return true;
            }
            return transport.tryFillInterested(new Forward(callback));
        }

        /** The HTTP connection's read callback, which drains instead once the close lingers. */
        private final class Forward implements Callback {
            private final Callback callback;

            Forward(Callback callback) {
                this.callback = callback;
            }

            @Override
            public void succeeded() {
                if (closed.get()) {
                    drain();
                } else {
                    callback.succeeded();
                }
            }

            @Override
            public void failed(Throwable x) {
                if (closed.get()) {
                    cut(x);
                } else {
                    callback.failed(x);
                }
            }

            @Override
            public InvocationType getInvocationType() {
                return callback.getInvocationType();
            }
        }

        // ---- the rest is the transport's

        @Override
        public boolean isFillInterested() {
            return transport.isFillInterested();
        }

        @Override
        public void shutdownOutput() {
            transport.shutdownOutput();
        }

        @Override
        public SocketAddress getLocalSocketAddress() {
            return transport.getLocalSocketAddress();
        }

        @Override
        public SocketAddress getRemoteSocketAddress() {
            return transport.getRemoteSocketAddress();
        }

        @Override
        public long getCreatedTimeStamp() {
            return transport.getCreatedTimeStamp();
        }

        @Override
        public Object getTransport() {
            return transport.getTransport();
        }

        @Override
        public long getIdleTimeout() {
            return transport.getIdleTimeout();
        }

        @Override
        public void setIdleTimeout(long idleTimeout) {
            transport.setIdleTimeout(idleTimeout);
        }

        @Override
        public Callback cancelWrite(Throwable cause) {
            return transport.cancelWrite(cause);
        }

        @Override
        public Connection getConnection() {
            return transport.getConnection();
        }

        @Override
        public void setConnection(Connection connection) {
            transport.setConnection(connection);
        }

        @Override
        public void onOpen() {
            transport.onOpen();
        }

        @Override
        public void onClose(Throwable cause) {
            transport.onClose(cause);
        }

        @Override
        public void upgrade(Connection newConnection) {
            transport.upgrade(newConnection);
        }

        @Override
        public SslSessionData getSslSessionData() {
            return transport.getSslSessionData();
        }

        @Override
        public String toString() {
            return "Lingering[" + transport + "]";
        }
    }
}
