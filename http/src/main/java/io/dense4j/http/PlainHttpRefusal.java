package io.dense4j.http;

import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.DetectorConnectionFactory;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The front of the HTTPS port: a connection that starts with a TLS handshake goes on to TLS; one that starts with
 * anything else (plain HTTP, a client that forgot {@code https://}) gets a 400 saying so, in plain text and JSON, and
 * is closed. Never served: tokens sent in the clear must not be acted on. (Without it, such a client saw the
 * connection closed without a word.)
 */
final class PlainHttpRefusal extends DetectorConnectionFactory {
    static final String MESSAGE = "this port speaks HTTPS (TLS) only, and the request came in plain HTTP: use https://";
    private static final byte[] ANSWER = answer();

    PlainHttpRefusal(SslConnectionFactory tls) {
        super(tls);
    }

    private static byte[] answer() {
        byte[] body = Json.errorBody(MESSAGE);
        String head = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                + "\r\nConnection: close\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[h.length + body.length];
        System.arraycopy(h, 0, out, 0, h.length);
        System.arraycopy(body, 0, out, h.length, body.length);
        return out;
    }

    /** The first bytes are not a TLS handshake. */
    @Override
    protected void nextProtocol(Connector connector, EndPoint endPoint, ByteBuffer buffer) {
        // configured like every connection of the connector: its listeners (the connection guard) see it close
        endPoint.upgrade(configure(new Refusal(endPoint, connector), connector, endPoint));
    }

    /**
     * Writes the answer, shuts its side, and reads and drops what the client still sends until it closes (closing
     * at once with unread bytes would reset the connection, and the client could lose the answer). The connection
     * guard's header deadline closes a client that never does.
     */
    private static final class Refusal extends AbstractConnection implements Connection.UpgradeTo {
        private final ByteBuffer drain = BufferUtil.allocate(1024); // Jetty's convention: empty is limit 0

        Refusal(EndPoint endPoint, Connector connector) {
            super(endPoint, connector.getExecutor());
        }

        @Override
        public void onUpgradeTo(ByteBuffer unread) {
            // the plain request's first bytes: dropped
        }

        @Override
        public void onOpen() {
            super.onOpen();
            getEndPoint().write(Callback.from(this::answered, x -> getEndPoint().close(x)), ByteBuffer.wrap(ANSWER));
        }

        private void answered() {
            getEndPoint().shutdownOutput();
            fillInterested();
        }

        @Override
        public void onFillable() {
            try {
                while (true) {
                    BufferUtil.clear(drain);
                    int n = getEndPoint().fill(drain);
                    if (n < 0) {
                        getEndPoint().close();
                        return;
                    }
                    if (n == 0) {
                        fillInterested();
                        return;
                    }
                }
            } catch (IOException e) {
                getEndPoint().close(e);
            }
        }
    }
}
