package io.dense4j.federated.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.federated.protocol.Message.Envelope;
import io.dense4j.federated.protocol.ProtocolException.Code;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Every message round-trips; hostile frames are refused with a clear error before anything large is allocated. */
class MessageCodecTest {
    static final Envelope ENV = new Envelope("task", "client-a", 3, bytes(16, 1), bytes(16, 2));
    static final TrainingPlan PLAN = new TrainingPlan(2, 16, 0.01, 4, 1.5, false, 1000, true);

    static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    static List<Message> samples() {
        return List.of(
                new Message.Poll(ENV),
                new Message.Update(ENV, new float[] {1.5f, -2f, 0f}),
                new Message.AdvertiseKeys(ENV, bytes(32, 3), bytes(32, 4)),
                new Message.ShareKeys(ENV, bytes(32, 5), List.of(new Message.Sealed(2, bytes(102, 6)), new Message.Sealed(3, bytes(102, 7)))),
                new Message.MaskedInput(ENV, bytes(32, 5), new int[] {Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE}),
                new Message.Unmasking(ENV, bytes(32, 5), List.of(new Message.KeyShare(1, bytes(33, 8))),
                        List.of(new Message.KeyShare(4, bytes(33, 9)))),
                new Message.Wait("task", 3, "waiting", 500),
                new Message.NotSelected("task", 3, 250),
                new Message.RoundTask("task", 3, bytes(16, 1), Map.of("class", "Sequential", "layers", List.of()), PLAN,
                        new float[] {0.25f, Float.MIN_VALUE, -1e30f}),
                new Message.PeerKeys("task", 3, bytes(32, 5), 2, List.of(new Message.Peer(1, "client-a", bytes(32, 3), bytes(32, 4)),
                        new Message.Peer(2, "client-b", bytes(32, 10), bytes(32, 11)))),
                new Message.SharesForYou("task", 3, bytes(32, 5), List.of(new Message.Sealed(2, bytes(102, 6)))),
                new Message.UnmaskingRequest("task", 3, bytes(32, 5), new int[] {1, 2, 5}, new int[] {3}),
                new Message.Accepted("task", 3, "update"),
                new Message.RoundOver("task", 3, "EXCLUDED", "missed a phase"),
                new Message.Finished("task", 30, "all 30 rounds ran"));
    }

    @Test
    void everyMessageRoundTrips() {
        for (Message m : samples()) {
            byte[] frame = MessageCodec.encode(m);
            Message back = MessageCodec.decode(frame, Limits.DEFAULT);
            assertEquals(m.type(), back.type());
            assertArrayEquals(frame, MessageCodec.encode(back), "re-encoding " + m.type() + " gives the same bytes");
        }
        Message.MaskedInput mi = (Message.MaskedInput) MessageCodec.decode(MessageCodec.encode(samples().get(4)), Limits.DEFAULT);
        assertArrayEquals(new int[] {Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE}, mi.vector());
        Message.RoundTask rt = (Message.RoundTask) MessageCodec.decode(MessageCodec.encode(samples().get(8)), Limits.DEFAULT);
        assertEquals(PLAN, rt.plan());
        assertArrayEquals(new float[] {0.25f, Float.MIN_VALUE, -1e30f}, rt.weights());
        assertArrayEquals(ENV.roundNonce(), ((Message.Poll) MessageCodec.decode(MessageCodec.encode(samples().get(0)),
                Limits.DEFAULT)).envelope().roundNonce());
    }

    /** A frame with the given header JSON and vector bytes. */
    static byte[] frame(String json, int kind, int count, byte[] vector) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + 1 + 4 + h.length + 1 + 4 + vector.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {'D', '4', 'F', 'L'}).put((byte) 1).putInt(h.length).put(h).put((byte) kind).putInt(count).put(vector);
        return b.array();
    }

    static ProtocolException refused(byte[] frame, Limits limits) {
        return assertThrows(ProtocolException.class, () -> MessageCodec.decode(frame, limits));
    }

    static String pollJson(String extra) {
        return "{\"type\":\"poll\",\"task\":\"t\",\"client\":\"c\",\"round\":1,\"round_nonce\":\"\","
                + "\"message_id\":\"AAAAAAAAAAAAAAAAAAAAAA==\"" + extra + "}";
    }

    @Test
    void malformedFramesAreRefusedWithTheReason() {
        assertTrue(MessageCodec.decode(frame(pollJson(""), 0, 0, new byte[0]), Limits.DEFAULT) instanceof Message.Poll);
        record Case(byte[] frame, String expected) {}
        byte[] good = frame(pollJson(""), 0, 0, new byte[0]);
        byte[] badMagic = good.clone();
        badMagic[0] = 'X';
        byte[] badVersion = good.clone();
        badVersion[4] = 9;
        byte[] truncated = java.util.Arrays.copyOf(good, good.length - 3);
        byte[] trailing = java.util.Arrays.copyOf(good, good.length + 1);
        List<Case> cases = List.of(
                new Case(new byte[3], "too short"),
                new Case(badMagic, "bad magic"),
                new Case(badVersion, "version 9"),
                new Case(truncated, "declares"),
                new Case(trailing, "follow"),
                new Case(frame("[1,2]", 0, 0, new byte[0]), "not a JSON object"),
                new Case(frame("{\"type\":\"poll\"", 0, 0, new byte[0]), "not a JSON object"),
                new Case(frame(pollJson(",\"round\":2"), 0, 0, new byte[0]), "not a JSON object"), // duplicate key
                new Case(frame(pollJson(",\"admin\":true"), 0, 0, new byte[0]), "unexpected field 'admin'"),
                new Case(frame("{\"type\":\"launch\"}", 0, 0, new byte[0]), "unknown message type"),
                new Case(frame("{\"type\":42}", 0, 0, new byte[0]), "'type'"),
                new Case(frame(pollJson("").replace("\"round\":1", "\"round\":\"1\""), 0, 0, new byte[0]), "'round' must be an integer"),
                new Case(frame(pollJson("").replace("\"round\":1", "\"round\":1.5"), 0, 0, new byte[0]), "'round' must be an integer"),
                new Case(frame(pollJson("").replace("\"round\":1", "\"round\":-7"), 0, 0, new byte[0]), "outside"),
                new Case(frame(pollJson("").replace("\"client\":\"c\",", ""), 0, 0, new byte[0]), "lacks 'client'"),
                new Case(frame(pollJson("").replace("AAAAAAAAAAAAAAAAAAAAAA==", "not base64!"), 0, 0, new byte[0]), "not base64"),
                new Case(frame(pollJson("").replace("AAAAAAAAAAAAAAAAAAAAAA==", "AA=="), 0, 0, new byte[0]), "bytes, expected"),
                new Case(frame(pollJson(""), 1, 2, new byte[8]), "carries no vector"),
                new Case(frame(pollJson(""), 0, 2, new byte[8]), "vector kind none"),
                new Case(frame(pollJson(""), 7, 0, new byte[0]), "unknown vector kind"),
                new Case(frame(pollJson("").replace("\"poll\"", "\"update\""), 0, 0, new byte[0]), "needs a float32 vector"),
                new Case(frame(pollJson("").replace("\"poll\"", "\"masked_input\"").replace("}", ",\"session\":\""
                        + java.util.Base64.getEncoder().encodeToString(new byte[32]) + "\"}"), 1, 1, new byte[4]), "needs an int32"));
        for (Case c : cases) {
            ProtocolException e = refused(c.frame(), Limits.DEFAULT);
            assertEquals(Code.BAD_MESSAGE, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains(c.expected()), "expected '" + c.expected() + "' in: " + e.getMessage());
        }
    }

    @Test
    void declaredSizesAreCheckedBeforeAllocating() {
        Limits tight = new Limits(4096, 512, 100, 4, 64);
        // a header length of 2 GiB in a 20-byte message: refused without allocating it
        byte[] hugeHeader = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).put(new byte[] {'D', '4', 'F', 'L', 1})
                .putInt(Integer.MAX_VALUE).array();
        assertEquals(Code.TOO_LARGE, refused(hugeHeader, Limits.DEFAULT).code());
        // a vector of 2^31 values declared, 8 bytes present
        byte[] h = pollJson("").replace("\"poll\"", "\"update\"").getBytes(StandardCharsets.UTF_8);
        byte[] hugeVector = ByteBuffer.allocate(4 + 1 + 4 + h.length + 1 + 4 + 8).order(ByteOrder.LITTLE_ENDIAN)
                .put(new byte[] {'D', '4', 'F', 'L', 1}).putInt(h.length).put(h).put((byte) 1).putInt(Integer.MIN_VALUE)
                .put(new byte[8]).array();
        assertEquals(Code.TOO_LARGE, refused(hugeVector, Limits.DEFAULT).code());
        // the same vector declared as 3 values while 8 bytes follow
        ByteBuffer.wrap(hugeVector).order(ByteOrder.LITTLE_ENDIAN).putInt(4 + 1 + 4 + h.length + 1, 3);
        assertEquals(Code.BAD_MESSAGE, refused(hugeVector, Limits.DEFAULT).code());
        // per-task limits: frame, header, vector, list entries, string length
        assertEquals(Code.TOO_LARGE, refused(new byte[5000], tight).code());
        assertEquals(Code.TOO_LARGE, refused(frame(pollJson(",\"pad\":\"" + "x".repeat(600) + "\""), 0, 0, new byte[0]), tight).code());
        assertEquals(Code.TOO_LARGE, refused(MessageCodec.encode(new Message.Update(ENV, new float[101])), tight).code());
        assertEquals(Code.TOO_LARGE, refused(MessageCodec.encode(new Message.UnmaskingRequest("t", 1, bytes(32, 1),
                new int[] {1, 2, 3, 4, 5}, new int[0])), tight).code());
        assertEquals(Code.TOO_LARGE, refused(MessageCodec.encode(new Message.Wait("t", 1, "y".repeat(65), 1)), tight).code());
        // deep nesting in the model config
        String deep = "[".repeat(2000) + "]".repeat(2000);
        assertEquals(Code.BAD_MESSAGE, refused(frame(pollJson(",\"x\":" + deep), 0, 0, new byte[0]), Limits.DEFAULT).code());
    }

    @Test
    void randomCorruptionOnlyEverGivesProtocolExceptions() {
        SplittableRandom r = new SplittableRandom(11);
        int refusedCount = 0;
        for (Message m : samples()) {
            byte[] good = MessageCodec.encode(m);
            for (int trial = 0; trial < 300; trial++) {
                byte[] f = good.clone();
                int flips = 1 + r.nextInt(4);
                for (int k = 0; k < flips; k++) {
                    f[r.nextInt(f.length)] = (byte) r.nextInt(256);
                }
                if (r.nextInt(5) == 0) {
                    f = java.util.Arrays.copyOf(f, r.nextInt(f.length));
                }
                try {
                    MessageCodec.decode(f, Limits.DEFAULT);
                } catch (ProtocolException e) {
                    refusedCount++;
                    assertTrue(e.getMessage() != null && !e.getMessage().isEmpty());
                }
                // anything else (NullPointerException, IndexOutOfBounds, OutOfMemoryError...) fails the test
            }
        }
        assertTrue(refusedCount > 1000, "most corruptions are detected: " + refusedCount);
    }
}
