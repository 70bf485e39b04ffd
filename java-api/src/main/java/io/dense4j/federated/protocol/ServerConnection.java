package io.dense4j.federated.protocol;

/**
 * A client's link to the federated server: one request, one response. The in-JVM transport
 * ({@code io.dense4j.federated.InMemoryTransport}) calls the coordinator directly through the codec; an HTTP
 * binding POSTs the encoded frame with the client's token and decodes the reply (a refusal comes back as an
 * HTTP status and message, rethrown as a {@link ProtocolException} with the matching code).
 */
public interface ServerConnection {
    Message.ServerMessage exchange(Message.ClientMessage request);
}
