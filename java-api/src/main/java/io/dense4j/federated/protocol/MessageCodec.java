package io.dense4j.federated.protocol;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.federated.protocol.Message.AdvertiseKeys;
import io.dense4j.federated.protocol.Message.Envelope;
import io.dense4j.federated.protocol.Message.KeyShare;
import io.dense4j.federated.protocol.Message.Peer;
import io.dense4j.federated.protocol.Message.Sealed;
import io.dense4j.tensor.ElementCodec;
import io.dense4j.tensor.ElementType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The wire format of {@link Message}s: one frame per message,
 *
 * <pre>
 *   "D4FL"  version:u8=1  headerLength:u32le  header:JSON(UTF-8)  vectorKind:u8 (0 none, 1 f32, 2 i32)
 *   vectorLength:u32le  vector:vectorLength × 4 bytes little-endian
 * </pre>
 *
 * The header holds {@code "type"} and the message's fields (byte strings in base64). Decoding checks every declared
 * length against the configured {@link Limits} and against the bytes actually present before allocating, refuses
 * trailing bytes, duplicate JSON keys, unknown fields and a vector where the type has none.
 */
public final class MessageCodec {
    static final byte[] MAGIC = {'D', '4', 'F', 'L'};
    static final int VERSION = 1;
    private static final int KIND_NONE = 0;
    private static final int KIND_F32 = 1;
    private static final int KIND_I32 = 2;
    private static final int NONCE_BYTES = 16;
    private static final int SESSION_BYTES = 32;
    private static final int KEY_BYTES = 32;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.USE_LONG_FOR_INTS);

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
    }

    private MessageCodec() {}

    // ------------------------------------------------------------------------------------------ encode

    public static byte[] encode(Message m) {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("type", m.type());
        int kind = KIND_NONE;
        float[] floats = null;
        int[] ints = null;
        if (m instanceof Message.ClientMessage c) {
            putEnvelope(h, c.envelope());
            if (c instanceof Message.Update u) {
                kind = KIND_F32;
                floats = u.vector();
            } else if (c instanceof AdvertiseKeys a) {
                h.put("encryption_key", b64(a.encryptionKey()));
                h.put("masking_key", b64(a.maskingKey()));
            } else if (c instanceof Message.ShareKeys sk) {
                h.put("session", b64(sk.session()));
                h.put("shares", sealedList(sk.shares()));
            } else if (c instanceof Message.MaskedInput mi) {
                h.put("session", b64(mi.session()));
                if (mi.complaints().length > 0) {
                    h.put("complaints", mi.complaints());
                }
                kind = KIND_I32;
                ints = mi.vector();
            } else if (c instanceof Message.Unmasking u) {
                h.put("session", b64(u.session()));
                h.put("self_mask_shares", shareList(u.selfMaskShares()));
                h.put("masking_key_shares", shareList(u.maskingKeyShares()));
            }
        } else {
            Message.ServerMessage s = (Message.ServerMessage) m;
            h.put("task", s.task());
            h.put("round", s.round());
            if (s instanceof Message.Wait w) {
                h.put("reason", w.reason());
                h.put("retry_after_ms", w.retryAfterMillis());
            } else if (s instanceof Message.NotSelected n) {
                h.put("retry_after_ms", n.retryAfterMillis());
            } else if (s instanceof Message.RoundTask t) {
                h.put("round_nonce", b64(t.roundNonce()));
                h.put("model_config", t.modelConfig());
                h.put("plan", t.plan().toMap());
                kind = KIND_F32;
                floats = t.weights();
            } else if (s instanceof Message.PeerKeys p) {
                h.put("session", b64(p.session()));
                h.put("threshold", p.threshold());
                List<Map<String, Object>> peers = new ArrayList<>();
                for (Peer peer : p.peers()) {
                    Map<String, Object> e = new LinkedHashMap<>();
                    e.put("index", peer.index());
                    e.put("client", peer.client());
                    e.put("encryption_key", b64(peer.encryptionKey()));
                    e.put("masking_key", b64(peer.maskingKey()));
                    peers.add(e);
                }
                h.put("peers", peers);
            } else if (s instanceof Message.SharesForYou f) {
                h.put("session", b64(f.session()));
                h.put("shares", sealedList(f.shares()));
            } else if (s instanceof Message.UnmaskingRequest r) {
                h.put("session", b64(r.session()));
                h.put("alive", r.alive());
                h.put("dropped", r.dropped());
            } else if (s instanceof Message.Accepted a) {
                h.put("what", a.what());
            } else if (s instanceof Message.RoundOver o) {
                h.put("status", o.status());
                h.put("reason", o.reason());
            } else if (s instanceof Message.Finished f) {
                h.put("reason", f.reason());
            }
        }
        byte[] header;
        try {
            header = JSON.writeValueAsBytes(h);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("message header of " + m.type() + " is not serializable", e);
        }
        int n = floats != null ? floats.length : ints != null ? ints.length : 0;
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 1 + 4 + header.length + 1 + 4 + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) VERSION).putInt(header.length).put(header).put((byte) kind).putInt(n);
        if (floats != null) {
            ElementCodec.encode(ElementType.FLOAT32, floats, 0, floats.length, b);
        } else if (ints != null) {
            ElementCodec.encode(ElementType.INT32, ints, 0, ints.length, b);
        }
        return b.array();
    }

    private static void putEnvelope(Map<String, Object> h, Envelope e) {
        h.put("task", e.task());
        h.put("client", e.client());
        h.put("round", e.round());
        h.put("round_nonce", b64(e.roundNonce()));
        h.put("message_id", b64(e.messageId()));
    }

    private static List<Map<String, Object>> sealedList(List<Sealed> l) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Sealed s : l) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("peer", s.peer());
            e.put("ciphertext", b64(s.ciphertext()));
            out.add(e);
        }
        return out;
    }

    private static List<Map<String, Object>> shareList(List<KeyShare> l) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (KeyShare s : l) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("peer", s.peer());
            e.put("share", b64(s.share()));
            out.add(e);
        }
        return out;
    }

    private static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    // ------------------------------------------------------------------------------------------ decode

    /** Decodes one frame, refusing anything malformed or beyond {@code limits}; errors say what and where. */
    public static Message decode(byte[] frame, Limits limits) {
        if (frame.length > limits.maxFrameBytes()) {
            throw new ProtocolException(ProtocolException.Code.TOO_LARGE, "message of " + frame.length
                    + " bytes is above the limit of " + limits.maxFrameBytes());
        }
        ByteBuffer b = ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN);
        if (frame.length < MAGIC.length + 1 + 4) {
            throw bad("message of " + frame.length + " bytes is too short for a frame header");
        }
        for (byte c : MAGIC) {
            if (b.get() != c) {
                throw bad("not a Dense4J federated message (bad magic)");
            }
        }
        int version = b.get() & 0xff;
        if (version != VERSION) {
            throw bad("unsupported frame version " + version + " (this side speaks " + VERSION + ")");
        }
        long headerLen = b.getInt() & 0xffffffffL;
        if (headerLen > limits.maxHeaderBytes()) {
            throw new ProtocolException(ProtocolException.Code.TOO_LARGE, "header of " + headerLen
                    + " bytes is above the limit of " + limits.maxHeaderBytes());
        }
        if (headerLen + 1 + 4 > b.remaining()) {
            throw bad("header declares " + headerLen + " bytes but the message has " + Math.max(0, b.remaining() - 5)
                    + " after the frame header");
        }
        byte[] header = new byte[(int) headerLen];
        b.get(header);
        int kind = b.get() & 0xff;
        long count = b.getInt() & 0xffffffffL;
        if (kind > KIND_I32) {
            throw bad("unknown vector kind " + kind);
        }
        if (count > limits.maxVectorLength()) {
            throw new ProtocolException(ProtocolException.Code.TOO_LARGE, "vector of " + count
                    + " values is above the limit of " + limits.maxVectorLength());
        }
        if (kind == KIND_NONE && count != 0) {
            throw bad("vector kind none with a length of " + count);
        }
        if (4 * count != b.remaining()) {
            throw bad("vector declares " + count + " values (" + 4 * count + " bytes) but " + b.remaining()
                    + " bytes follow");
        }
        Map<String, Object> h;
        try {
            h = JSON.readValue(header, new TypeReference<LinkedHashMap<String, Object>>() {});
        } catch (JsonProcessingException e) {
            throw bad("header is not a JSON object: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw bad("header is not a JSON object: " + e.getMessage());
        } catch (RuntimeException e) {
            throw bad("header is not a JSON object: " + e.getMessage());
        }
        if (h == null) {
            throw bad("header is not a JSON object");
        }
        Object type = h.get("type");
        if (!(type instanceof String t)) {
            throw bad("header lacks a string 'type'");
        }
        Fields f = new Fields("'" + truncate(t) + "' message", h, limits);
        f.string("type");
        float[] floats = null;
        int[] ints = null;
        if (kind == KIND_F32) {
            floats = new float[(int) count];
            ElementCodec.decode(ElementType.FLOAT32, b, floats, 0, floats.length);
        } else if (kind == KIND_I32) {
            ints = new int[(int) count];
            ElementCodec.decode(ElementType.INT32, b, ints, 0, ints.length);
        }
        Message m = switch (t) {
            case "poll" -> new Message.Poll(envelope(f));
            case "update" -> new Message.Update(envelope(f), need(floats, t, "a float32"));
            case "advertise_keys" -> new AdvertiseKeys(envelope(f), f.bytes("encryption_key", KEY_BYTES, KEY_BYTES),
                    f.bytes("masking_key", KEY_BYTES, KEY_BYTES));
            case "share_keys" -> new Message.ShareKeys(envelope(f), session(f), sealed(f));
            case "masked_input" -> new Message.MaskedInput(envelope(f), session(f), need(ints, t, "an int32"),
                    f.has("complaints") ? f.ints("complaints", 1, Integer.MAX_VALUE) : new int[0]);
            case "unmasking" -> new Message.Unmasking(envelope(f), session(f), shares(f, "self_mask_shares"),
                    shares(f, "masking_key_shares"));
            case "wait" -> new Message.Wait(f.string("task"), round(f), f.string("reason"),
                    f.integer("retry_after_ms", 0, 86_400_000));
            case "not_selected" -> new Message.NotSelected(f.string("task"), round(f), f.integer("retry_after_ms", 0, 86_400_000));
            case "round_task" -> new Message.RoundTask(f.string("task"), round(f),
                    f.bytes("round_nonce", NONCE_BYTES, NONCE_BYTES), f.object("model_config"),
                    TrainingPlan.from(f.fields("plan")), need(floats, t, "a float32"));
            case "peer_keys" -> new Message.PeerKeys(f.string("task"), round(f), session(f),
                    (int) f.integer("threshold", 1, Integer.MAX_VALUE), peers(f));
            case "shares_for_you" -> new Message.SharesForYou(f.string("task"), round(f), session(f), sealed(f));
            case "unmasking_request" -> new Message.UnmaskingRequest(f.string("task"), round(f), session(f),
                    f.ints("alive", 1, Integer.MAX_VALUE), f.ints("dropped", 1, Integer.MAX_VALUE));
            case "accepted" -> new Message.Accepted(f.string("task"), round(f), f.string("what"));
            case "round_over" -> new Message.RoundOver(f.string("task"), round(f), f.string("status"), f.string("reason"));
            case "finished" -> new Message.Finished(f.string("task"), round(f), f.string("reason"));
            default -> throw bad("unknown message type '" + truncate(t) + "'");
        };
        if ((floats != null || ints != null) && !(m instanceof Message.Update || m instanceof Message.MaskedInput
                || m instanceof Message.RoundTask)) {
            throw bad("a '" + t + "' message carries no vector");
        }
        f.done();
        return m;
    }

    private static <T> T need(T vector, String type, String what) {
        if (vector == null) {
            throw bad("a '" + type + "' message needs " + what + " vector");
        }
        return vector;
    }

    private static Envelope envelope(Fields f) {
        return new Envelope(f.string("task"), f.string("client"), f.integer("round", -1, Long.MAX_VALUE),
                f.bytes("round_nonce", 0, NONCE_BYTES), f.bytes("message_id", 8, 32));
    }

    private static long round(Fields f) {
        return f.integer("round", -1, Long.MAX_VALUE);
    }

    private static byte[] session(Fields f) {
        return f.bytes("session", SESSION_BYTES, SESSION_BYTES);
    }

    private static List<Sealed> sealed(Fields f) {
        List<Sealed> out = new ArrayList<>();
        for (Fields e : f.list("shares")) {
            out.add(new Sealed((int) e.integer("peer", 1, Integer.MAX_VALUE), e.bytes("ciphertext", 1, 4096)));
            e.done();
        }
        return out;
    }

    private static List<KeyShare> shares(Fields f, String name) {
        List<KeyShare> out = new ArrayList<>();
        for (Fields e : f.list(name)) {
            out.add(new KeyShare((int) e.integer("peer", 1, Integer.MAX_VALUE), e.bytes("share", 1, 64)));
            e.done();
        }
        return out;
    }

    private static List<Peer> peers(Fields f) {
        List<Peer> out = new ArrayList<>();
        for (Fields e : f.list("peers")) {
            out.add(new Peer((int) e.integer("index", 1, Integer.MAX_VALUE), e.string("client"),
                    e.bytes("encryption_key", KEY_BYTES, KEY_BYTES), e.bytes("masking_key", KEY_BYTES, KEY_BYTES)));
            e.done();
        }
        return out;
    }

    private static String truncate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private static ProtocolException bad(String what) {
        return new ProtocolException(ProtocolException.Code.BAD_MESSAGE, what);
    }

    /** Encoded JSON size of a config (for limits). */
    public static int jsonBytes(Object value) {
        try {
            return JSON.writeValueAsBytes(value).length;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON-serializable", e);
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
