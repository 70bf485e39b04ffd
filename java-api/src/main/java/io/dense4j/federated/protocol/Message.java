package io.dense4j.federated.protocol;

import java.util.List;
import java.util.Map;

/**
 * Every message of the federated protocol, in one place. The protocol is pull-based request/response (an HTTP
 * POST per message later): a client sends a {@link ClientMessage} and gets one {@link ServerMessage} back.
 *
 * <p>Replay protection: every client message names its task, client and round and carries the round's nonce (16
 * random bytes the server draws when the round starts and sends only to the round's clients) and a fresh random
 * message id. The server refuses messages for another task, round or nonce, accepts each kind of submission once
 * per client and round (a retry with the same message id is acknowledged again and changes nothing), and refuses
 * a message whose named client is not the authenticated one. Secure-aggregation messages also carry the session id
 * (a hash over the round and every advertised key) that keys every mask and ciphertext.
 *
 * <p>{@link MessageCodec} turns messages into frames (a JSON header and at most one little-endian vector).
 */
public sealed interface Message permits Message.ClientMessage, Message.ServerMessage {
    /** The wire name of the message's type. */
    String type();

    String task();

    /** Who sends a client message, for which task and round, with the round's nonce and a fresh message id. */
    record Envelope(String task, String client, long round, byte[] roundNonce, byte[] messageId) {}

    sealed interface ClientMessage extends Message {
        Envelope envelope();

        @Override
        default String task() {
            return envelope().task();
        }
    }

    sealed interface ServerMessage extends Message {
        /** The round the message is about (the current one for {@link Wait}, {@link NotSelected}, {@link Finished}). */
        long round();
    }

    // ------------------------------------------------------------------------------------- client to server

    /** "What should I do now?" The round and nonce may be the client's last known ones (round −1 at first). */
    record Poll(Envelope envelope) implements ClientMessage {
        public String type() {
            return "poll";
        }
    }

    /** A plain (unmasked) update vector: without secure aggregation the server sees it. */
    record Update(Envelope envelope, float[] vector) implements ClientMessage {
        public String type() {
            return "update";
        }
    }

    /** SecAgg round 0: the client's two X25519 public keys (c for share encryption, s for masks), raw 32 bytes. */
    record AdvertiseKeys(Envelope envelope, byte[] encryptionKey, byte[] maskingKey) implements ClientMessage {
        public String type() {
            return "advertise_keys";
        }
    }

    /** A ciphertext between two clients, routed by the server: {@code peer} is the receiver (sent) or sender (delivered). */
    record Sealed(int peer, byte[] ciphertext) {}

    /** SecAgg round 1: for every other peer, its shares of this client's mask seed and masking key, encrypted to it. */
    record ShareKeys(Envelope envelope, byte[] session, List<Sealed> shares) implements ClientMessage {
        public String type() {
            return "share_keys";
        }
    }

    /**
     * SecAgg round 2: the quantized update plus the self mask and pairwise masks, in Z_2^32; {@code complaints}: the
     * peers whose shares did not open for this client (it holds no share of their secrets, so it gives none when
     * unmasking; the others' shares must reach the threshold).
     */
    record MaskedInput(Envelope envelope, byte[] session, int[] vector, int[] complaints) implements ClientMessage {
        public MaskedInput(Envelope envelope, byte[] session, int[] vector) {
            this(envelope, session, vector, new int[0]);
        }

        public String type() {
            return "masked_input";
        }
    }

    /** A Shamir share held by this client of a secret of {@code peer}. */
    record KeyShare(int peer, byte[] share) {}

    /** SecAgg round 3: shares of the self-mask seeds of surviving peers and of the masking keys of dropped ones. */
    record Unmasking(Envelope envelope, byte[] session, List<KeyShare> selfMaskShares, List<KeyShare> maskingKeyShares)
            implements ClientMessage {
        public String type() {
            return "unmasking";
        }
    }

    // ------------------------------------------------------------------------------------- server to client

    /** Nothing to do yet (the phase has not closed); poll again after the given time. */
    record Wait(String task, long round, String reason, long retryAfterMillis) implements ServerMessage {
        public String type() {
            return "wait";
        }
    }

    /** The client was not sampled this round. */
    record NotSelected(String task, long round, long retryAfterMillis) implements ServerMessage {
        public String type() {
            return "not_selected";
        }
    }

    /** The client was sampled: the global weights, the model's config and what to do. */
    record RoundTask(String task, long round, byte[] roundNonce, Map<String, Object> modelConfig, TrainingPlan plan,
                     float[] weights) implements ServerMessage {
        public String type() {
            return "round_task";
        }
    }

    /** One participant of a secure aggregation, with its Shamir x-coordinate {@code index} (1..n). */
    record Peer(int index, String client, byte[] encryptionKey, byte[] maskingKey) {}

    /** SecAgg: everyone who advertised keys (U1), the threshold t and the session id derived from them. */
    record PeerKeys(String task, long round, byte[] session, int threshold, List<Peer> peers) implements ServerMessage {
        public String type() {
            return "peer_keys";
        }
    }

    /** SecAgg: the ciphertexts addressed to this client by the peers that shared keys (U2). */
    record SharesForYou(String task, long round, byte[] session, List<Sealed> shares) implements ServerMessage {
        public String type() {
            return "shares_for_you";
        }
    }

    /** SecAgg: who sent a masked input (alive, U3) and who shared keys but did not (dropped). */
    record UnmaskingRequest(String task, long round, byte[] session, int[] alive, int[] dropped) implements ServerMessage {
        public String type() {
            return "unmasking_request";
        }
    }

    /** A submission was accepted. */
    record Accepted(String task, long round, String what) implements ServerMessage {
        public String type() {
            return "accepted";
        }
    }

    /** The round is over for this client: completed, aborted, or closed without it. */
    record RoundOver(String task, long round, String status, String reason) implements ServerMessage {
        public String type() {
            return "round_over";
        }
    }

    /** The task is over: all rounds ran, the privacy budget is spent, or it was stopped. */
    record Finished(String task, long round, String reason) implements ServerMessage {
        public String type() {
            return "finished";
        }
    }
}
