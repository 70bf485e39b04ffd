package io.dense4j.federated;

import io.dense4j.federated.protocol.Limits;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ServerConnection;

/**
 * A client's connection to a coordinator in the same JVM, through the wire format: every request and answer is
 * encoded and decoded as it would be over HTTP, so simulations exercise the codec and count real bytes. The
 * connection is bound to one client id, as an HTTP connection is to one token.
 */
public final class InMemoryTransport implements ServerConnection {
    /** Sees every exchange: the request, and the answer or the refusal. */
    public interface Tap {
        void exchanged(String client, byte[] request, byte[] response, ProtocolException refused);
    }

    private final FederatedCoordinator server;
    private final String clientId;
    private final Tap tap;

    public InMemoryTransport(FederatedCoordinator server, String clientId, Tap tap) {
        this.server = server;
        this.clientId = clientId;
        this.tap = tap;
    }

    @Override
    public Message.ServerMessage exchange(Message.ClientMessage request) {
        byte[] in = MessageCodec.encode(request);
        byte[] out;
        try {
            out = server.handle(clientId, in);
        } catch (ProtocolException e) {
            if (tap != null) {
                tap.exchanged(clientId, in, null, e);
            }
            throw e;
        }
        if (tap != null) {
            tap.exchanged(clientId, in, out, null);
        }
        Message m = MessageCodec.decode(out, Limits.DEFAULT);
        if (!(m instanceof Message.ServerMessage s)) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, "the server answered with a client message");
        }
        return s;
    }
}
