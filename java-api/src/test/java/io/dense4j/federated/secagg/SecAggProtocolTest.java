package io.dense4j.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.federated.protocol.Limits;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.Message.Envelope;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ProtocolException.Code;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The secure-aggregation state machines end to end (every message through the codec), with dropouts in every
 * phase, and with a server or peer that sends what an honest one would not.
 */
class SecAggProtocolTest {
    static final String TASK = "task-1";
    static final long ROUND = 7;
    final SecureRandom random = new SecureRandom();

    /** n clients with random inputs, a server, and the plumbing between them. */
    final class Cohort {
        final byte[] nonce = new byte[16];
        final Map<String, SecAggClient> clients = new LinkedHashMap<>();
        final Map<String, int[]> inputs = new LinkedHashMap<>();
        final SecAggServer server;
        final int length;

        Cohort(int n, int length, double thresholdFraction, int minSurvivors) {
            random.nextBytes(nonce);
            this.length = length;
            SplittableRandom r = new SplittableRandom(n * 31L + length);
            for (int i = 0; i < n; i++) {
                String id = "client-" + (char) ('a' + i);
                clients.put(id, new SecAggClient(TASK, ROUND, id, 2, random));
                int[] x = new int[length];
                for (int j = 0; j < length; j++) {
                    x[j] = r.nextInt(-1000, 1000);
                }
                inputs.put(id, x);
            }
            server = new SecAggServer(TASK, ROUND, nonce, clients.keySet(), minSurvivors, thresholdFraction, length);
        }

        Envelope env(String id) {
            byte[] mid = new byte[16];
            random.nextBytes(mid);
            return new Envelope(TASK, id, ROUND, nonce, mid);
        }

        /** Encodes and decodes, as the wire would. */
        @SuppressWarnings("unchecked")
        <M extends Message> M wire(M m) {
            return (M) MessageCodec.decode(MessageCodec.encode(m), Limits.DEFAULT);
        }

        void advertise(Set<String> who) {
            for (String id : who) {
                server.accept(id, wire(clients.get(id).advertiseKeys(env(id))));
            }
            server.closePhase();
        }

        void share(Set<String> who) {
            for (String id : who) {
                server.accept(id, wire(clients.get(id).shareKeys(wire(server.peerKeys()), env(id))));
            }
            server.closePhase();
        }

        void mask(Set<String> who) {
            for (String id : who) {
                server.accept(id, wire(clients.get(id).maskInput(wire(server.sharesFor(id)), inputs.get(id), env(id))));
            }
            server.closePhase();
        }

        void unmask(Set<String> who) {
            for (String id : who) {
                server.accept(id, wire(clients.get(id).unmask(wire(server.unmaskingRequest(id)), env(id))));
            }
            server.closePhase();
        }

        int[] plainSum(Set<String> who) {
            int[] s = new int[length];
            for (String id : who) {
                int[] x = inputs.get(id);
                for (int j = 0; j < length; j++) {
                    s[j] += x[j];
                }
            }
            return s;
        }

        Set<String> all() {
            return new TreeSet<>(clients.keySet());
        }

        Set<String> without(String... ids) {
            Set<String> s = all();
            s.removeAll(List.of(ids));
            return s;
        }
    }

    @Test
    void sumIsExactWithEveryoneForAwkwardLengths() {
        for (int length : new int[] {1, 31, 33, 784, 1000}) {
            Cohort c = new Cohort(5, length, 0.5, 3);
            c.advertise(c.all());
            c.share(c.all());
            c.mask(c.all());
            assertEquals(SecAggServer.Phase.UNMASKING, c.server.phase());
            c.unmask(c.all());
            assertEquals(SecAggServer.Phase.COMPLETED, c.server.phase());
            assertArrayEquals(c.plainSum(c.all()), c.server.result(), "length " + length);
            assertEquals(5, c.server.summed());
        }
    }

    @Test
    void clientsDroppingInEveryPhaseStillGiveTheSumOfTheSurvivors() {
        Cohort c = new Cohort(10, 257, 0.5, 5);
        c.advertise(c.without("client-a"));                          // a never shows up
        c.share(c.without("client-a", "client-b"));                  // b advertised but did not share keys
        c.mask(c.without("client-a", "client-b", "client-c"));       // c shared keys, then dropped before masking
        // e and f dropped after masking: 5 of 9 remain, exactly the threshold t = floor(9/2) + 1
        c.unmask(c.without("client-a", "client-b", "client-c", "client-e", "client-f"));
        assertEquals(SecAggServer.Phase.COMPLETED, c.server.phase(), String.valueOf(c.server.abortReason()));
        // e and f sent masked inputs: their inputs are in the sum although they never helped unmask
        assertArrayEquals(c.plainSum(c.without("client-a", "client-b", "client-c")), c.server.result());
        assertArrayEquals(new int[] {9, 8, 7, 5}, c.server.setSizes());
    }

    @Test
    void tooFewSurvivorsAbortInsteadOfRevealing() {
        Cohort c = new Cohort(5, 10, 0.5, 2);
        c.advertise(c.all());
        c.share(c.all());
        c.mask(c.all());
        // threshold 3 of 5: only 2 answer the unmasking request
        c.unmask(Set.of("client-a", "client-b"));
        assertEquals(SecAggServer.Phase.ABORTED, c.server.phase());
        assertTrue(c.server.abortReason().contains("below the threshold 3"), c.server.abortReason());
        assertThrows(IllegalStateException.class, c.server::result);

        Cohort d = new Cohort(5, 10, 0.5, 4);
        d.advertise(Set.of("client-a", "client-b", "client-c"));
        assertEquals(SecAggServer.Phase.ABORTED, d.server.phase(), "3 advertised, min-clients is 4");
    }

    @Test
    void theServerNeverHoldsAnIndividualInput() {
        Cohort c = new Cohort(4, 50, 0.5, 2);
        c.advertise(c.all());
        c.share(c.all());
        c.server.accept("client-a", c.wire(c.clients.get("client-a").maskInput(c.wire(c.server.sharesFor("client-a")),
                c.inputs.get("client-a"), c.env("client-a"))));
        // after one input the running sum is that input plus masks: uniformly distributed, unrelated to it
        int[] held = (int[]) c.server.snapshot().get("masked_sum");
        int[] x = c.inputs.get("client-a");
        int close = 0;
        for (int j = 0; j < x.length; j++) {
            if (Math.abs((long) held[j] - x[j]) < 1_000_000) {
                close++;
            }
        }
        // a uniform mask lands within 1e6 of the input with probability 4.7e-4 per coordinate: 4 of 50 has odds ~1e-8
        assertTrue(close <= 3, close + " of 50 coordinates of the held sum are near the input");
    }

    // ------------------------------------------------------------------------------ a server that deviates

    @Test
    void clientRefusesSecondUnmaskingRequestSoNoPeerLosesBothSecrets() {
        Cohort c = new Cohort(5, 8, 0.5, 3);
        c.advertise(c.all());
        c.share(c.all());
        c.mask(c.without("client-e"));
        SecAggClient a = c.clients.get("client-a");
        Message.UnmaskingRequest honest = c.server.unmaskingRequest("client-a"); // e is dropped here
        Message.Unmasking first = a.unmask(honest, c.env("client-a"));
        assertEquals(1, first.maskingKeyShares().size(), "the masking-key share of the dropped peer e");
        assertEquals(4, first.selfMaskShares().size());
        // a server now claiming e alive would get e's self-mask share too: refused, whatever the content
        Message.UnmaskingRequest lie = new Message.UnmaskingRequest(TASK, ROUND, honest.session(), new int[] {1, 2, 3, 4, 5},
                new int[0]);
        ProtocolException e = assertThrows(ProtocolException.class, () -> a.unmask(lie, c.env("client-a")));
        assertEquals(Code.WRONG_STATE, e.code());
    }

    @Test
    void clientRefusesInconsistentUnmaskingRequests() {
        record Case(String name, int[] alive, int[] dropped, String expected) {}
        List<Case> cases = List.of(
                new Case("alive and dropped overlap", new int[] {1, 2, 3, 4}, new int[] {4, 5}, "listed both"),
                new Case("self dropped", new int[] {2, 3, 4}, new int[] {1, 5}, "as dropped"),
                new Case("peer missing", new int[] {1, 2, 3}, new int[] {5}, "does not account"),
                new Case("unknown peer", new int[] {1, 2, 3, 9}, new int[] {5}, "did not share keys"),
                new Case("repeated peer", new int[] {1, 2, 2, 3, 4}, new int[] {5}, "listed twice"),
                new Case("below threshold", new int[] {1, 2}, new int[] {3, 4, 5}, "below the threshold"));
        for (Case k : cases) {
            Cohort c = new Cohort(5, 4, 0.5, 2);
            c.advertise(c.all());
            c.share(c.all());
            c.mask(c.all());
            SecAggClient a = c.clients.get("client-a");
            byte[] session = c.server.unmaskingRequest("client-a").session();
            ProtocolException e = assertThrows(ProtocolException.class,
                    () -> a.unmask(new Message.UnmaskingRequest(TASK, ROUND, session, k.alive(), k.dropped()), c.env("client-a")),
                    k.name());
            assertTrue(e.getMessage().contains(k.expected()), k.name() + ": " + e.getMessage());
            assertEquals(SecAggClient.State.ABORTED, a.state(), k.name());
        }
    }

    @Test
    void clientRefusesForgedPeerListsAndThresholds() {
        Cohort c = new Cohort(5, 4, 0.5, 2);
        c.advertise(c.all());
        Message.PeerKeys pk = c.server.peerKeys();
        List<Consumer<List<Message.Peer>>> forgeries = List.of(
                l -> l.remove(0),                                                   // this client left out
                l -> l.set(0, new Message.Peer(1, "client-a", l.get(1).encryptionKey(), l.get(0).maskingKey())), // its keys swapped
                l -> l.set(2, new Message.Peer(2, l.get(2).client(), l.get(2).encryptionKey(), l.get(2).maskingKey()))); // index repeated
        for (Consumer<List<Message.Peer>> forge : forgeries) {
            Cohort d = new Cohort(5, 4, 0.5, 2);
            d.advertise(d.all());
            List<Message.Peer> peers = new ArrayList<>(d.server.peerKeys().peers());
            forge.accept(peers);
            Message.PeerKeys forged = new Message.PeerKeys(TASK, ROUND, d.server.peerKeys().session(), 3, peers);
            assertThrows(ProtocolException.class, () -> d.clients.get("client-a").shareKeys(forged, d.env("client-a")));
        }
        // a minority threshold would let fewer than half the clients help unmask: refused
        Message.PeerKeys minority = new Message.PeerKeys(TASK, ROUND, pk.session(), 2, pk.peers());
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> c.clients.get("client-a").shareKeys(minority, c.env("client-a")));
        assertTrue(e.getMessage().contains("not a majority"), e.getMessage());
        // the same keys under another session id (e.g. replayed from another round)
        byte[] other = pk.session().clone();
        other[0] ^= 1;
        e = assertThrows(ProtocolException.class,
                () -> c.clients.get("client-b").shareKeys(new Message.PeerKeys(TASK, ROUND, other, 3, pk.peers()), c.env("client-b")));
        assertTrue(e.getMessage().contains("session id"), e.getMessage());
    }

    /**
     * A share that does not open (tampered on the way, or re-routed to the wrong client) is detected and named in the
     * client's masked input: it holds no share of that peer's secrets. It no longer ends the client's round.
     */
    @Test
    void tamperedOrMisroutedCiphertextsAreDetected() {
        Cohort c = new Cohort(4, 4, 0.5, 2);
        c.advertise(c.all());
        c.share(c.all());
        Message.SharesForYou forA = c.server.sharesFor("client-a");
        List<Message.Sealed> tampered = new ArrayList<>(forA.shares());
        byte[] ct = tampered.get(0).ciphertext().clone();
        ct[20] ^= 0x40;
        tampered.set(0, new Message.Sealed(tampered.get(0).peer(), ct));
        Message.MaskedInput a = c.clients.get("client-a").maskInput(
                new Message.SharesForYou(TASK, ROUND, forA.session(), tampered), c.inputs.get("client-a"), c.env("client-a"));
        assertArrayEquals(new int[] {tampered.get(0).peer()}, a.complaints());
        assertArrayEquals(a.complaints(), c.wire(a).complaints(), "complaints travel on the wire");

        // b's ciphertexts delivered to c (a server re-routing shares): none opens for c
        Message.SharesForYou forB = c.server.sharesFor("client-b");
        List<Message.Sealed> misrouted = forB.shares().stream().filter(s -> s.peer() != 3).toList();
        Message.MaskedInput m = c.clients.get("client-c").maskInput(
                new Message.SharesForYou(TASK, ROUND, forB.session(), misrouted), c.inputs.get("client-c"), c.env("client-c"));
        assertArrayEquals(misrouted.stream().mapToInt(Message.Sealed::peer).sorted().toArray(), m.complaints());
    }

    /** Cohort {@code c} with client {@code from}'s share ciphertexts to the clients {@code to} corrupted on the way. */
    void shareCorrupting(Cohort c, String from, Set<Integer> to) {
        for (String id : c.all()) {
            Message.ShareKeys k = c.clients.get(id).shareKeys(c.wire(c.server.peerKeys()), c.env(id));
            if (id.equals(from)) {
                List<Message.Sealed> bad = new ArrayList<>();
                for (Message.Sealed s : k.shares()) {
                    byte[] ct = s.ciphertext().clone();
                    if (to.contains(s.peer())) {
                        ct[ct.length / 2] ^= 0x10;
                    }
                    bad.add(new Message.Sealed(s.peer(), ct));
                }
                k = new Message.ShareKeys(k.envelope(), k.session(), bad);
            }
            c.server.accept(id, c.wire(k));
        }
        c.server.closePhase();
    }

    /**
     * One client whose shares do not open for some others (a malicious or broken client) used to end the round for
     * everyone: each receiver aborted. Now the receivers name it, give no share of its secrets, and the round
     * completes on the other clients' shares, alive or dropped; only when too few hold its shares does the round
     * abort, and the reason names it and its accusers.
     */
    @Test
    void aClientWhoseSharesDoNotOpenCannotAbortTheRound() {
        for (boolean eSendsItsInput : new boolean[] {true, false}) {
            Cohort c = new Cohort(5, 33, 0.5, 3); // t = 3
            c.advertise(c.all());
            // a and b cannot open e's shares: e's seed has c's, d's and e's own (3 = t); dropped, e's masking key
            // has b's, c's and d's when only a cannot open them
            shareCorrupting(c, "client-e", eSendsItsInput ? Set.of(1, 2) : Set.of(1));
            c.mask(eSendsItsInput ? c.all() : c.without("client-e"));
            assertEquals(SecAggServer.Phase.UNMASKING, c.server.phase());
            Set<String> alive = eSendsItsInput ? c.all() : c.without("client-e");
            c.unmask(alive);
            assertEquals(SecAggServer.Phase.COMPLETED, c.server.phase(), String.valueOf(c.server.abortReason()));
            assertArrayEquals(c.plainSum(alive), c.server.result(), "e sends its input: " + eSendsItsInput);
        }
        Cohort c = new Cohort(5, 33, 0.5, 3);
        c.advertise(c.all());
        shareCorrupting(c, "client-e", Set.of(1, 2, 3)); // only d and e itself hold shares of e's seed: 2 < t
        c.mask(c.all());
        c.unmask(c.all());
        assertEquals(SecAggServer.Phase.ABORTED, c.server.phase());
        assertTrue(c.server.abortReason().contains("peer 5 (its shares did not open for clients [1, 2, 3])"),
                c.server.abortReason());
    }

    // ------------------------------------------------------------------------------ clients that deviate

    @Test
    void serverRefusesMessagesOutsideTheProtocolWithoutChangingState() {
        Cohort c = new Cohort(4, 6, 0.5, 2);
        SecAggClient a = c.clients.get("client-a");
        Message.AdvertiseKeys keys = a.advertiseKeys(c.env("client-a"));
        c.server.accept("client-a", keys);
        assertEquals(Code.DUPLICATE, assertThrows(ProtocolException.class, () -> c.server.accept("client-a", keys)).code());
        assertEquals(Code.FORBIDDEN, assertThrows(ProtocolException.class,
                () -> c.server.accept("mallory", c.clients.get("client-b").advertiseKeys(c.env("client-b")))).code());
        // a client reusing another's public key (e.g. to make its pairwise mask predictable) is refused
        assertEquals(Code.BAD_MESSAGE, assertThrows(ProtocolException.class, () -> c.server.accept("client-c",
                new Message.AdvertiseKeys(c.env("client-c"), keys.encryptionKey(), keys.maskingKey()))).code());
        for (String id : List.of("client-b", "client-c", "client-d")) {
            if (id.equals("client-b")) {
                continue; // b's keys were consumed by the refused message above; b sits this round out
            }
            c.server.accept(id, c.clients.get(id).advertiseKeys(c.env(id)));
        }
        c.server.closePhase();
        assertEquals(3, c.server.peerKeys().peers().size());
        // a masked input before its phase
        assertEquals(Code.WRONG_STATE, assertThrows(ProtocolException.class, () -> c.server.accept("client-a",
                new Message.MaskedInput(c.env("client-a"), c.server.peerKeys().session(), new int[6]))).code());
        // shares for only some peers
        Message.ShareKeys sk = a.shareKeys(c.server.peerKeys(), c.env("client-a"));
        Message.ShareKeys partial = new Message.ShareKeys(sk.envelope(), sk.session(), sk.shares().subList(0, 1));
        assertEquals(Code.BAD_MESSAGE, assertThrows(ProtocolException.class, () -> c.server.accept("client-a", partial)).code());
        c.server.accept("client-a", sk); // the refused message left nothing behind
        for (String id : List.of("client-c", "client-d")) {
            c.server.accept(id, c.clients.get(id).shareKeys(c.server.peerKeys(), c.env(id)));
        }
        c.server.closePhase();
        // a masked vector of the wrong length
        Message.MaskedInput wrong = new Message.MaskedInput(c.env("client-a"), c.server.peerKeys().session(), new int[5]);
        assertEquals(Code.BAD_MESSAGE, assertThrows(ProtocolException.class, () -> c.server.accept("client-a", wrong)).code());
        for (String id : List.of("client-a", "client-c", "client-d")) {
            c.server.accept(id, c.clients.get(id).maskInput(c.server.sharesFor(id), c.inputs.get(id), c.env(id)));
        }
        c.server.closePhase();
        for (String id : List.of("client-a", "client-c", "client-d")) {
            c.server.accept(id, c.clients.get(id).unmask(c.server.unmaskingRequest(id), c.env(id)));
        }
        c.server.closePhase();
        assertArrayEquals(c.plainSum(Set.of("client-a", "client-c", "client-d")), c.server.result());
    }

    @Test
    void aWrongShareIsDetectedNotSilentlyUsed() {
        Cohort c = new Cohort(5, 6, 0.5, 2);
        c.advertise(c.all());
        c.share(c.all());
        c.mask(c.without("client-e"));
        // a's shares are corrupted: with 4 responders and t = 3 the extra share exposes the inconsistency
        for (String id : c.without("client-e")) {
            Message.Unmasking u = c.clients.get(id).unmask(c.server.unmaskingRequest(id), c.env(id));
            if (id.equals("client-a")) {
                List<Message.KeyShare> bad = new ArrayList<>();
                for (Message.KeyShare s : u.maskingKeyShares()) {
                    byte[] v = s.share().clone();
                    v[32] ^= 1;
                    bad.add(new Message.KeyShare(s.peer(), v));
                }
                u = new Message.Unmasking(u.envelope(), u.session(), u.selfMaskShares(), bad);
            }
            c.server.accept(id, u);
        }
        c.server.closePhase();
        assertEquals(SecAggServer.Phase.ABORTED, c.server.phase());
        assertTrue(c.server.abortReason().contains("inconsistent") || c.server.abortReason().contains("does not match"),
                c.server.abortReason());
    }
}
