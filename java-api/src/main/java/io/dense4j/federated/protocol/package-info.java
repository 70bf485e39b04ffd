/**
 * The federated protocol's messages ({@link io.dense4j.federated.protocol.Message}), their wire format
 * ({@link io.dense4j.federated.protocol.MessageCodec}: a JSON header and at most one little-endian vector per
 * frame), size limits and errors ({@link io.dense4j.federated.protocol.ProtocolException} with the HTTP status an
 * HTTP binding answers with). Pull-based: every exchange is one client request and one server answer.
 */
package io.dense4j.federated.protocol;
