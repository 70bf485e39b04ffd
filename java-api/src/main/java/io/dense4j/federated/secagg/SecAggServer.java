package io.dense4j.federated.secagg;

import io.dense4j.federated.protocol.Message.AdvertiseKeys;
import io.dense4j.federated.protocol.Message.KeyShare;
import io.dense4j.federated.protocol.Message.MaskedInput;
import io.dense4j.federated.protocol.Message.Peer;
import io.dense4j.federated.protocol.Message.PeerKeys;
import io.dense4j.federated.protocol.Message.Sealed;
import io.dense4j.federated.protocol.Message.ShareKeys;
import io.dense4j.federated.protocol.Message.SharesForYou;
import io.dense4j.federated.protocol.Message.Unmasking;
import io.dense4j.federated.protocol.Message.UnmaskingRequest;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ProtocolException.Code;
import java.math.BigInteger;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The server's side of one secure aggregation, as a state machine over the four rounds of Bonawitz et al.:
 * ADVERTISE_KEYS (collect two public keys per client; closing fixes U1, the indices, the threshold and the session
 * id) → SHARE_KEYS (collect the encrypted shares; closing fixes U2 and routes the ciphertexts) → MASKED_INPUT (add
 * each masked vector to a running sum, mod 2^32, and keep nothing else of it; closing fixes U3) → UNMASKING
 * (collect shares; closing rebuilds the self-mask seeds of U3 and the masking keys of U2 \ U3, strips their masks
 * and yields the sum of the inputs of U3) → COMPLETED, or ABORTED whenever fewer than the needed clients remain.
 *
 * <p>Phases close when every expected client has answered ({@link #phaseComplete()}) or when the caller's deadline
 * passes ({@link #closePhase()}). Every accept method refuses a message from a client outside the phase's set, a
 * second submission, a message for another session, and anything of the wrong size, without changing state.
 * Not thread-safe: the coordinator serializes calls.
 */
public final class SecAggServer {
    public enum Phase { ADVERTISE_KEYS, SHARE_KEYS, MASKED_INPUT, UNMASKING, COMPLETED, ABORTED }

    private final String task;
    private final long round;
    private final byte[] roundNonce;
    private final Set<String> selected;
    private final int minSurvivors;
    private final double thresholdFraction;
    private final int vectorLength;
    private Phase phase = Phase.ADVERTISE_KEYS;
    private String abortReason;

    private final TreeMap<String, byte[][]> advertised = new TreeMap<>();
    private final Map<String, Integer> indexOf = new LinkedHashMap<>();
    private final TreeMap<Integer, Peer> peers = new TreeMap<>();
    private int threshold;
    private byte[] session;
    private PeerKeys peerKeys;

    /** Ciphertexts per receiver index: sender index → ciphertext. */
    private final TreeMap<Integer, TreeMap<Integer, byte[]>> mailbox = new TreeMap<>();
    private final TreeSet<Integer> sharedKeys = new TreeSet<>();

    private int[] maskedSum;
    private final TreeSet<Integer> sentInput = new TreeSet<>();
    private final TreeSet<Integer> dropped = new TreeSet<>();
    /** Per client, the peers whose shares did not open for it (it gives no share of their secrets). */
    private final TreeMap<Integer, Set<Integer>> complaints = new TreeMap<>();

    private final TreeSet<Integer> unmasked = new TreeSet<>();
    private final TreeMap<Integer, Map<Integer, BigInteger>> selfMaskShares = new TreeMap<>();
    private final TreeMap<Integer, Map<Integer, BigInteger>> maskingKeyShares = new TreeMap<>();
    private int[] result;

    /**
     * @param selected          the clients sampled for the round (the only ones whose keys are accepted)
     * @param minSurvivors      fewest clients whose inputs may be summed (the task's min-clients)
     * @param thresholdFraction t = floor(fraction · |U1|) + 1, a majority for fractions &gt;= 0.5
     * @param vectorLength      exact length of every masked vector
     */
    public SecAggServer(String task, long round, byte[] roundNonce, Set<String> selected, int minSurvivors,
                        double thresholdFraction, int vectorLength) {
        if (!(thresholdFraction >= 0.5 && thresholdFraction < 1)) {
            throw new IllegalArgumentException("threshold fraction must be in [0.5, 1), got " + thresholdFraction);
        }
        this.task = task;
        this.round = round;
        this.roundNonce = roundNonce.clone();
        this.selected = Set.copyOf(selected);
        this.minSurvivors = Math.max(2, minSurvivors);
        this.thresholdFraction = thresholdFraction;
        this.vectorLength = vectorLength;
    }

    public Phase phase() {
        return phase;
    }

    public String abortReason() {
        return abortReason;
    }

    public int threshold() {
        return threshold;
    }

    /** The participants' count of each set so far: U1 (advertised), U2 (shared keys), U3 (sent input), U4 (unmasked). */
    public int[] setSizes() {
        return new int[] {advertised.size(), sharedKeys.size(), sentInput.size(), unmasked.size()};
    }

    /** The sum of the inputs of the clients that sent one (U3), once COMPLETED. */
    public int[] result() {
        if (phase != Phase.COMPLETED) {
            throw new IllegalStateException("no result in phase " + phase);
        }
        return result.clone();
    }

    /** How many inputs the result sums. */
    public int summed() {
        return sentInput.size();
    }

    public int index(String client) {
        Integer i = indexOf.get(client);
        return i == null ? 0 : i;
    }

    // --------------------------------------------------------------------------------------------- round 0

    public void accept(String client, AdvertiseKeys m) {
        expect(Phase.ADVERTISE_KEYS, client, "advertise keys");
        if (!selected.contains(client)) {
            throw new ProtocolException(Code.FORBIDDEN, "client " + client + " was not selected for round " + round);
        }
        if (advertised.containsKey(client)) {
            throw duplicate(client, "keys");
        }
        X25519.publicKey(m.encryptionKey(), "encryption key of client " + client);
        X25519.publicKey(m.maskingKey(), "masking key of client " + client);
        for (byte[][] other : advertised.values()) {
            for (byte[] k : other) {
                if (Arrays.equals(k, m.encryptionKey()) || Arrays.equals(k, m.maskingKey())) {
                    throw new ProtocolException(Code.BAD_MESSAGE, "client " + client
                            + " advertised a public key another client already uses");
                }
            }
        }
        if (Arrays.equals(m.encryptionKey(), m.maskingKey())) {
            throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " advertised the same key twice");
        }
        advertised.put(client, new byte[][] {m.encryptionKey().clone(), m.maskingKey().clone()});
    }

    private void closeAdvertiseKeys() {
        int n = advertised.size();
        int t = (int) Math.floor(thresholdFraction * n) + 1;
        if (n < Math.max(minSurvivors, 2) || t > n) {
            abort(n + " of " + selected.size() + " selected clients advertised keys; at least " + Math.max(minSurvivors, 2)
                    + " are needed");
            return;
        }
        // indices in client-id order: deterministic, and the complete graph makes the order irrelevant to security
        int i = 1;
        for (Map.Entry<String, byte[][]> e : advertised.entrySet()) {
            indexOf.put(e.getKey(), i);
            peers.put(i, new Peer(i, e.getKey(), e.getValue()[0], e.getValue()[1]));
            i++;
        }
        threshold = t;
        session = SecAggCrypto.sessionId(task, round, roundNonce, t, new ArrayList<>(peers.values()));
        peerKeys = new PeerKeys(task, round, session, t, List.copyOf(peers.values()));
        phase = Phase.SHARE_KEYS;
    }

    /** The peer list for every member of U1 (during SHARE_KEYS). */
    public PeerKeys peerKeys() {
        if (peerKeys == null) {
            throw new IllegalStateException("peer keys are known once ADVERTISE_KEYS closed");
        }
        return peerKeys;
    }

    // --------------------------------------------------------------------------------------------- round 1

    public void accept(String client, ShareKeys m) {
        int me = member(Phase.SHARE_KEYS, client, "share keys");
        checkSession(client, m.session());
        if (sharedKeys.contains(me)) {
            throw duplicate(client, "shares");
        }
        TreeMap<Integer, byte[]> byReceiver = new TreeMap<>();
        for (Sealed s : m.shares()) {
            if (!peers.containsKey(s.peer()) || s.peer() == me) {
                throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " sent a share to " + s.peer()
                        + ", who is not another participant");
            }
            if (s.ciphertext().length != SecAggCrypto.SHARE_CIPHERTEXT_BYTES) {
                throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + "'s share for peer " + s.peer() + " is "
                        + s.ciphertext().length + " bytes, expected " + SecAggCrypto.SHARE_CIPHERTEXT_BYTES);
            }
            if (byReceiver.put(s.peer(), s.ciphertext().clone()) != null) {
                throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " sent two shares to peer " + s.peer());
            }
        }
        if (byReceiver.size() != peers.size() - 1) {
            throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " sent shares to " + byReceiver.size()
                    + " peers, expected every other participant (" + (peers.size() - 1) + ")");
        }
        for (Map.Entry<Integer, byte[]> e : byReceiver.entrySet()) {
            mailbox.computeIfAbsent(e.getKey(), k -> new TreeMap<>()).put(me, e.getValue());
        }
        sharedKeys.add(me);
    }

    private void closeShareKeys() {
        if (sharedKeys.size() < Math.max(threshold, minSurvivors)) {
            abort(sharedKeys.size() + " clients shared keys, below " + Math.max(threshold, minSurvivors));
            return;
        }
        phase = Phase.MASKED_INPUT;
        maskedSum = new int[vectorLength];
    }

    /** The ciphertexts addressed to {@code client} from the other members of U2 (during MASKED_INPUT). */
    public SharesForYou sharesFor(String client) {
        int me = member(Phase.MASKED_INPUT, client, "receive shares");
        if (!sharedKeys.contains(me)) {
            throw new ProtocolException(Code.WRONG_STATE, "client " + client + " did not share keys in round " + round);
        }
        List<Sealed> out = new ArrayList<>();
        for (Map.Entry<Integer, byte[]> e : mailbox.getOrDefault(me, new TreeMap<>()).entrySet()) {
            if (sharedKeys.contains(e.getKey())) {
                out.add(new Sealed(e.getKey(), e.getValue().clone()));
            }
        }
        return new SharesForYou(task, round, session, out);
    }

    // --------------------------------------------------------------------------------------------- round 2

    public void accept(String client, MaskedInput m) {
        int me = member(Phase.MASKED_INPUT, client, "send a masked input");
        checkSession(client, m.session());
        if (!sharedKeys.contains(me)) {
            throw new ProtocolException(Code.FORBIDDEN, "client " + client + " did not share keys, so its input cannot be unmasked");
        }
        if (sentInput.contains(me)) {
            throw duplicate(client, "masked input");
        }
        int[] y = m.vector();
        if (y.length != vectorLength) {
            throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + "'s masked input has " + y.length
                    + " values, expected " + vectorLength);
        }
        TreeSet<Integer> against = new TreeSet<>();
        for (int p : m.complaints()) {
            if (p == me || !sharedKeys.contains(p) || !against.add(p)) {
                throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " complains about peer " + p
                        + ", which is not another client that shared keys, or twice");
            }
        }
        if (!against.isEmpty()) {
            complaints.put(me, against);
        }
        for (int i = 0; i < y.length; i++) {
            maskedSum[i] += y[i]; // only the running sum is kept
        }
        sentInput.add(me);
    }

    private void closeMaskedInput() {
        if (sentInput.size() < Math.max(threshold, minSurvivors)) {
            abort(sentInput.size() + " clients sent masked inputs, below " + Math.max(threshold, minSurvivors));
            return;
        }
        dropped.addAll(sharedKeys);
        dropped.removeAll(sentInput);
        mailbox.clear();
        phase = Phase.UNMASKING;
    }

    /** Who is alive (U3) and who dropped after sharing keys (U2 \ U3), for every member of U3 (during UNMASKING). */
    public UnmaskingRequest unmaskingRequest(String client) {
        int me = member(Phase.UNMASKING, client, "unmask");
        if (!sentInput.contains(me)) {
            throw new ProtocolException(Code.WRONG_STATE, "client " + client + " sent no masked input in round " + round);
        }
        return new UnmaskingRequest(task, round, session, toArray(sentInput), toArray(dropped));
    }

    // --------------------------------------------------------------------------------------------- round 3

    public void accept(String client, Unmasking m) {
        int me = member(Phase.UNMASKING, client, "unmask");
        checkSession(client, m.session());
        if (!sentInput.contains(me)) {
            throw new ProtocolException(Code.FORBIDDEN, "client " + client + " sent no masked input in round " + round);
        }
        if (unmasked.contains(me)) {
            throw duplicate(client, "unmasking shares");
        }
        // a client gives no share of a peer whose shares did not open for it (its complaint in round 2)
        Set<Integer> lacks = complaints.getOrDefault(me, Set.of());
        Map<Integer, BigInteger> seeds = shareMap(client, m.selfMaskShares(), without(sentInput, lacks), "self-mask seed");
        Map<Integer, BigInteger> keys = shareMap(client, m.maskingKeyShares(), without(dropped, lacks), "masking key");
        for (Map.Entry<Integer, BigInteger> e : seeds.entrySet()) {
            selfMaskShares.computeIfAbsent(e.getKey(), k -> new TreeMap<>()).put(me, e.getValue());
        }
        for (Map.Entry<Integer, BigInteger> e : keys.entrySet()) {
            maskingKeyShares.computeIfAbsent(e.getKey(), k -> new TreeMap<>()).put(me, e.getValue());
        }
        unmasked.add(me);
    }

    /** " (its shares did not open for clients 2, 5)" when clients complained about peer {@code v}, else "". */
    private String complainedAbout(int v) {
        List<Integer> by = complaints.entrySet().stream().filter(e -> e.getValue().contains(v)).map(Map.Entry::getKey)
                .toList();
        return by.isEmpty() ? "" : " (its shares did not open for clients " + by + ")";
    }

    private static Set<Integer> without(Set<Integer> all, Set<Integer> less) {
        TreeSet<Integer> out = new TreeSet<>(all);
        out.removeAll(less);
        return out;
    }

    /** Exactly one share for each expected peer, each a field element. */
    private Map<Integer, BigInteger> shareMap(String client, List<KeyShare> shares, Set<Integer> expected, String what) {
        Map<Integer, BigInteger> out = new TreeMap<>();
        for (KeyShare s : shares) {
            if (!expected.contains(s.peer())) {
                throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " sent a " + what + " share of peer "
                        + s.peer() + ", which the unmasking request did not ask for");
            }
            if (s.share().length != Shamir.SHARE_BYTES) {
                throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + "'s " + what + " share of peer "
                        + s.peer() + " is " + s.share().length + " bytes, expected " + Shamir.SHARE_BYTES);
            }
            BigInteger v = Shamir.fromBytes(s.share());
            if (v.compareTo(Shamir.PRIME) >= 0) {
                throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + "'s " + what + " share of peer "
                        + s.peer() + " is outside the field");
            }
            if (out.put(s.peer(), v) != null) {
                throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " sent two " + what + " shares of peer "
                        + s.peer());
            }
        }
        if (out.size() != expected.size()) {
            throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " sent " + out.size() + " " + what
                    + " shares, expected " + expected.size());
        }
        return out;
    }

    private void closeUnmasking() {
        if (unmasked.size() < threshold) {
            abort(unmasked.size() + " clients answered the unmasking request, below the threshold " + threshold);
            return;
        }
        int[] sum = maskedSum;
        try {
            for (int v : sentInput) {
                byte[] seed = Shamir.reconstruct(selfMaskShares.getOrDefault(v, Map.of()), threshold,
                        "the self-mask seed of peer " + v + complainedAbout(v));
                MaskPrg.addMask(sum, seed, session, SecAggCrypto.selfMaskName(v), -1);
            }
            for (int d : dropped) {
                byte[] secret = Shamir.reconstruct(maskingKeyShares.getOrDefault(d, Map.of()), threshold,
                        "the masking key of peer " + d + complainedAbout(d));
                PrivateKey key = X25519.privateKey(secret);
                if (!Arrays.equals(SecAggCrypto.publicOf(key), peers.get(d).maskingKey())) {
                    throw new ProtocolException(Code.BAD_MESSAGE, "the reconstructed masking key of peer " + d
                            + " does not match its advertised public key (a client sent a wrong share)");
                }
                for (int v : sentInput) {
                    byte[] seed = SecAggCrypto.pairSeed(key, X25519.publicKey(peers.get(v).maskingKey(), "peer " + v),
                            d, v, session, "peer " + v);
                    // v added pairSign(v, d) · PRG(seed); take it back out
                    MaskPrg.addMask(sum, seed, session, SecAggCrypto.pairMaskName(v, d), -SecAggCrypto.pairSign(v, d));
                }
            }
        } catch (ProtocolException e) {
            abort(e.getMessage());
            return;
        }
        result = sum;
        maskedSum = null;
        selfMaskShares.clear();
        maskingKeyShares.clear();
        phase = Phase.COMPLETED;
    }

    // --------------------------------------------------------------------------------------------- phases

    /** True when every client that can still answer in this phase has. */
    public boolean phaseComplete() {
        return switch (phase) {
            case ADVERTISE_KEYS -> advertised.size() == selected.size();
            case SHARE_KEYS -> sharedKeys.size() == peers.size();
            case MASKED_INPUT -> sentInput.size() == sharedKeys.size();
            case UNMASKING -> unmasked.size() == sentInput.size();
            case COMPLETED, ABORTED -> false;
        };
    }

    /** Closes the current phase (everyone answered, or the deadline passed) and moves to the next or aborts. */
    public Phase closePhase() {
        switch (phase) {
            case ADVERTISE_KEYS -> closeAdvertiseKeys();
            case SHARE_KEYS -> closeShareKeys();
            case MASKED_INPUT -> closeMaskedInput();
            case UNMASKING -> closeUnmasking();
            default -> throw new IllegalStateException("no phase to close in " + phase);
        }
        return phase;
    }

    /** Whether {@code client} still has something to send in the current phase. */
    public boolean awaits(String client) {
        Integer i = indexOf.get(client);
        return switch (phase) {
            case ADVERTISE_KEYS -> selected.contains(client) && !advertised.containsKey(client);
            case SHARE_KEYS -> i != null && !sharedKeys.contains(i);
            case MASKED_INPUT -> i != null && sharedKeys.contains(i) && !sentInput.contains(i);
            case UNMASKING -> i != null && sentInput.contains(i) && !unmasked.contains(i);
            default -> false;
        };
    }

    /** Whether {@code client} is still part of the aggregation (it can be summed or has to help unmask). */
    public boolean involves(String client) {
        Integer i = indexOf.get(client);
        return switch (phase) {
            case ADVERTISE_KEYS -> selected.contains(client);
            case SHARE_KEYS -> i != null;
            case MASKED_INPUT -> i != null && sharedKeys.contains(i);
            case UNMASKING -> i != null && sentInput.contains(i);
            default -> false;
        };
    }

    public void abort(String reason) {
        phase = Phase.ABORTED;
        abortReason = reason;
        maskedSum = null;
        mailbox.clear();
        selfMaskShares.clear();
        maskingKeyShares.clear();
        complaints.clear();
    }

    /**
     * Everything this object holds, for inspection and tests of what the server can see: public keys, routed
     * ciphertexts, the running masked sum, received shares and the set sizes. It never holds an individual input.
     */
    public Map<String, Object> snapshot() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("phase", phase.name());
        s.put("threshold", threshold);
        s.put("advertised", advertised.keySet());
        s.put("indices", indexOf);
        s.put("shared_keys", List.copyOf(sharedKeys));
        s.put("sent_input", List.copyOf(sentInput));
        s.put("dropped", List.copyOf(dropped));
        s.put("unmasked", List.copyOf(unmasked));
        s.put("complaints", new TreeMap<>(complaints));
        List<Object> ciphertexts = new ArrayList<>();
        mailbox.forEach((to, m) -> m.forEach((from, ct) -> ciphertexts.add(List.of(from, to, ct))));
        s.put("ciphertexts", ciphertexts);
        s.put("masked_sum", maskedSum == null ? null : maskedSum.clone());
        s.put("self_mask_shares", copyShares(selfMaskShares));
        s.put("masking_key_shares", copyShares(maskingKeyShares));
        return s;
    }

    private static Map<Integer, Map<Integer, BigInteger>> copyShares(Map<Integer, Map<Integer, BigInteger>> m) {
        Map<Integer, Map<Integer, BigInteger>> c = new TreeMap<>();
        m.forEach((k, v) -> c.put(k, new TreeMap<>(v)));
        return c;
    }

    // --------------------------------------------------------------------------------------------- checks

    private void expect(Phase p, String client, String what) {
        if (phase != p) {
            throw new ProtocolException(phase == Phase.ABORTED ? Code.ABORTED : Code.WRONG_STATE, "client " + client
                    + " cannot " + what + ": round " + round + " is in phase " + phase
                    + (abortReason != null ? " (" + abortReason + ")" : ""));
        }
    }

    private int member(Phase p, String client, String what) {
        expect(p, client, what);
        Integer i = indexOf.get(client);
        if (i == null) {
            throw new ProtocolException(Code.FORBIDDEN, "client " + client + " is not a participant of the secure "
                    + "aggregation of round " + round);
        }
        return i;
    }

    private void checkSession(String client, byte[] s) {
        if (!Arrays.equals(session, s)) {
            throw new ProtocolException(Code.BAD_MESSAGE, "client " + client + " sent a message for another session");
        }
    }

    private ProtocolException duplicate(String client, String what) {
        return new ProtocolException(Code.DUPLICATE, "client " + client + " already sent its " + what + " in round " + round);
    }

    private static int[] toArray(Set<Integer> s) {
        return s.stream().mapToInt(Integer::intValue).toArray();
    }
}
