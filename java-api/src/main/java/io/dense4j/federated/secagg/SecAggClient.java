package io.dense4j.federated.secagg;

import io.dense4j.federated.protocol.Message.AdvertiseKeys;
import io.dense4j.federated.protocol.Message.Envelope;
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
import java.nio.ByteBuffer;
import java.security.KeyPair;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One client's side of one secure aggregation (Bonawitz et al., CCS 2017, honest-but-curious variant), as a state
 * machine: NEW → {@link #advertiseKeys} → KEYS_ADVERTISED → {@link #shareKeys} → KEYS_SHARED → {@link #maskInput} →
 * INPUT_SENT → {@link #unmask} → COMPLETED; any refused server message moves it to ABORTED, and a method called in
 * the wrong state is refused. It checks what an honest-but-curious server could get wrong or try: the peer list
 * contains this client with its own keys, the session id matches the keys, the threshold is a majority, every
 * ciphertext authenticates and names the right sender and receiver, and the unmasking request splits the peers
 * that shared keys into alive and dropped with this client alive. It answers exactly one unmasking request, so it
 * never reveals both the self-mask seed share and the masking-key share of the same peer.
 */
public final class SecAggClient {
    public enum State { NEW, KEYS_ADVERTISED, KEYS_SHARED, INPUT_SENT, COMPLETED, ABORTED }

    private final String task;
    private final long round;
    private final String clientId;
    private final int minPeers;
    private final SecureRandom random;
    private final KeyPair encryptionKeys;
    private final KeyPair maskingKeys;
    private State state = State.NEW;
    private String abortReason;

    private byte[] session;
    private int threshold;
    private int myIndex;
    private TreeMap<Integer, Peer> peers;
    private byte[] selfMaskSeed;
    private BigInteger mySelfMaskShare;
    private BigInteger myMaskingKeyShare;
    /** Shares of each peer's secrets at this client's index, from the ciphertexts it received. */
    private final TreeMap<Integer, BigInteger> peerSelfMaskShares = new TreeMap<>();
    private final TreeMap<Integer, BigInteger> peerMaskingKeyShares = new TreeMap<>();
    private TreeSet<Integer> sharedKeys;

    /**
     * @param minPeers the smallest cohort this client takes part in (a sum over two reveals each input to the other)
     */
    public SecAggClient(String task, long round, String clientId, int minPeers, SecureRandom random) {
        if (minPeers < 2) {
            throw new IllegalArgumentException("a secure aggregation needs at least 2 peers, got " + minPeers);
        }
        this.task = task;
        this.round = round;
        this.clientId = clientId;
        this.minPeers = minPeers;
        this.random = random;
        this.encryptionKeys = X25519.generate(random);
        this.maskingKeys = X25519.generate(random);
    }

    public State state() {
        return state;
    }

    public String abortReason() {
        return abortReason;
    }

    /** This client's Shamir index once the peers are known (0 before). */
    public int index() {
        return myIndex;
    }

    /** Participants and threshold (after {@link #shareKeys}). */
    public int peerCount() {
        return peers == null ? 0 : peers.size();
    }

    public int threshold() {
        return threshold;
    }

    // --------------------------------------------------------------------------------------------- round 0

    public AdvertiseKeys advertiseKeys(Envelope envelope) {
        expect(State.NEW, "advertise keys");
        state = State.KEYS_ADVERTISED;
        return new AdvertiseKeys(envelope, X25519.publicBytes(encryptionKeys.getPublic()),
                X25519.publicBytes(maskingKeys.getPublic()));
    }

    // --------------------------------------------------------------------------------------------- round 1

    /** Checks the peer list, then secret-shares the self-mask seed and the masking key, encrypted to each peer. */
    public ShareKeys shareKeys(PeerKeys m, Envelope envelope) {
        expect(State.KEYS_ADVERTISED, "share keys");
        try {
            checkRound(m.task(), m.round());
            List<Peer> list = m.peers();
            int n = list.size();
            if (n < minPeers) {
                throw tooFew("only " + n + " clients advertised keys; this client takes part in cohorts of at least "
                        + minPeers);
            }
            TreeMap<Integer, Peer> byIndex = new TreeMap<>();
            Set<String> names = new HashSet<>();
            Set<ByteBuffer> keys = new HashSet<>();
            byte[] myEnc = X25519.publicBytes(encryptionKeys.getPublic());
            byte[] myMask = X25519.publicBytes(maskingKeys.getPublic());
            int me = 0;
            for (Peer p : list) {
                if (p.index() < 1 || p.index() > n || byIndex.put(p.index(), p) != null) {
                    throw bad("peer indices must be 1.." + n + " without repeats, got " + p.index());
                }
                if (!names.add(p.client())) {
                    throw bad("client '" + p.client() + "' is listed twice");
                }
                if (!keys.add(ByteBuffer.wrap(p.encryptionKey())) || !keys.add(ByteBuffer.wrap(p.maskingKey()))) {
                    throw bad("peer " + p.index() + " reuses a public key already listed");
                }
                X25519.publicKey(p.encryptionKey(), "encryption key of peer " + p.index());
                X25519.publicKey(p.maskingKey(), "masking key of peer " + p.index());
                if (p.client().equals(clientId)) {
                    if (!Arrays.equals(p.encryptionKey(), myEnc) || !Arrays.equals(p.maskingKey(), myMask)) {
                        throw bad("the peer list gives this client keys it did not advertise");
                    }
                    me = p.index();
                }
            }
            if (me == 0) {
                throw bad("the peer list does not contain this client");
            }
            int t = m.threshold();
            if (t <= n / 2 || t > n) {
                throw bad("threshold " + t + " of " + n + " is not a majority: fewer clients than half could then "
                        + "help the server unmask an individual input");
            }
            byte[] expected = SecAggCrypto.sessionId(task, round, envelope.roundNonce(), t, new ArrayList<>(byIndex.values()));
            if (!Arrays.equals(expected, m.session())) {
                throw bad("the session id does not match the advertised keys and round");
            }
            this.peers = byIndex;
            this.threshold = t;
            this.myIndex = me;
            this.session = expected;

            selfMaskSeed = new byte[32];
            random.nextBytes(selfMaskSeed);
            byte[] maskingSecret = X25519.privateBytes(maskingKeys.getPrivate());
            BigInteger[] seedShares = Shamir.share(selfMaskSeed, n, t, random);
            BigInteger[] keyShares = Shamir.share(maskingSecret, n, t, random);
            Arrays.fill(maskingSecret, (byte) 0);
            mySelfMaskShare = seedShares[me - 1];
            myMaskingKeyShare = keyShares[me - 1];
            List<Sealed> out = new ArrayList<>(n - 1);
            for (Peer p : byIndex.values()) {
                if (p.index() == me) {
                    continue;
                }
                ByteBuffer plain = ByteBuffer.allocate(SecAggCrypto.SHARE_PLAINTEXT_BYTES);
                plain.putInt(me).putInt(p.index());
                plain.put(Shamir.toBytes(keyShares[p.index() - 1], Shamir.SHARE_BYTES));
                plain.put(Shamir.toBytes(seedShares[p.index() - 1], Shamir.SHARE_BYTES));
                byte[] key = SecAggCrypto.shareKey(encryptionKeys.getPrivate(),
                        X25519.publicKey(p.encryptionKey(), "peer " + p.index()), me, p.index(), session, "peer " + p.index());
                out.add(new Sealed(p.index(), ShareCipher.seal(key, plain.array(),
                        SecAggCrypto.shareAad(session, me, p.index()), random)));
            }
            state = State.KEYS_SHARED;
            return new ShareKeys(envelope, session.clone(), out);
        } catch (ProtocolException e) {
            throw fail(e);
        }
    }

    // --------------------------------------------------------------------------------------------- round 2

    /**
     * Decrypts the shares addressed to this client (their senders are U2), then returns {@code input} plus the
     * self mask and, for every other member of U2, the pairwise mask: added towards higher indices, subtracted
     * towards lower ones.
     */
    public MaskedInput maskInput(SharesForYou m, int[] input, Envelope envelope) {
        expect(State.KEYS_SHARED, "send a masked input");
        try {
            checkRound(m.task(), m.round());
            checkSession(m.session());
            TreeSet<Integer> senders = new TreeSet<>();
            TreeSet<Integer> complaints = new TreeSet<>();
            for (Sealed s : m.shares()) {
                Peer from = peers.get(s.peer());
                if (from == null || s.peer() == myIndex) {
                    throw bad("a share claims to come from peer " + s.peer() + ", who is not another participant");
                }
                if (!senders.add(s.peer())) {
                    throw bad("two shares come from peer " + s.peer());
                }
                String what = "the share ciphertext from peer " + s.peer();
                try {
                    byte[] key = SecAggCrypto.shareKey(encryptionKeys.getPrivate(),
                            X25519.publicKey(from.encryptionKey(), "peer " + s.peer()), myIndex, s.peer(), session, what);
                    ByteBuffer plain = ByteBuffer.wrap(ShareCipher.open(key, s.ciphertext(),
                            SecAggCrypto.shareAad(session, s.peer(), myIndex), what));
                    if (plain.remaining() != SecAggCrypto.SHARE_PLAINTEXT_BYTES || plain.getInt() != s.peer()
                            || plain.getInt() != myIndex) {
                        throw bad(what + " is not a share pair from that peer to this client");
                    }
                    byte[] keyShare = new byte[Shamir.SHARE_BYTES];
                    byte[] seedShare = new byte[Shamir.SHARE_BYTES];
                    plain.get(keyShare).get(seedShare);
                    BigInteger k = Shamir.fromBytes(keyShare);
                    BigInteger sd = Shamir.fromBytes(seedShare);
                    if (k.compareTo(Shamir.PRIME) >= 0 || sd.compareTo(Shamir.PRIME) >= 0) {
                        throw bad(what + " holds a share outside the field");
                    }
                    peerMaskingKeyShares.put(s.peer(), k);
                    peerSelfMaskShares.put(s.peer(), sd);
                } catch (ProtocolException e) {
                    // one peer's bad ciphertext (a broken or malicious sender, or a server that tampered with it)
                    // must not end the round for everyone: this client holds no share of that peer's secrets and
                    // says so; the pairwise mask with it still goes in (it needs no share), and the other clients'
                    // shares must reach the threshold when unmasking
                    complaints.add(s.peer());
                }
            }
            senders.add(myIndex);
            if (senders.size() < threshold) {
                throw tooFew("only " + senders.size() + " clients shared keys, below the threshold " + threshold);
            }
            sharedKeys = senders;
            int[] y = input.clone();
            MaskPrg.addMask(y, selfMaskSeed, session, SecAggCrypto.selfMaskName(myIndex), 1);
            for (int v : senders) {
                if (v == myIndex) {
                    continue;
                }
                PublicKey theirs = X25519.publicKey(peers.get(v).maskingKey(), "masking key of peer " + v);
                byte[] seed = SecAggCrypto.pairSeed(maskingKeys.getPrivate(), theirs, myIndex, v, session, "peer " + v);
                MaskPrg.addMask(y, seed, session, SecAggCrypto.pairMaskName(myIndex, v), SecAggCrypto.pairSign(myIndex, v));
            }
            Arrays.fill(selfMaskSeed, (byte) 0); // the seed now lives only in its shares
            state = State.INPUT_SENT;
            return new MaskedInput(envelope, session.clone(), y, complaints.stream().mapToInt(Integer::intValue).toArray());
        } catch (ProtocolException e) {
            throw fail(e);
        }
    }

    // --------------------------------------------------------------------------------------------- round 3

    /**
     * For every alive peer its self-mask-seed share, for every dropped peer its masking-key share, after checking
     * that alive and dropped partition the peers that shared keys, that this client is alive, and that enough are.
     * Answers once: a second request (which could call a peer dropped after calling it alive) is refused.
     */
    public Unmasking unmask(UnmaskingRequest r, Envelope envelope) {
        expect(State.INPUT_SENT, "unmask");
        try {
            checkRound(r.task(), r.round());
            checkSession(r.session());
            TreeSet<Integer> alive = new TreeSet<>();
            TreeSet<Integer> dropped = new TreeSet<>();
            for (int v : r.alive()) {
                if (!sharedKeys.contains(v) || !alive.add(v)) {
                    throw bad("alive peer " + v + " did not share keys with this client or is listed twice");
                }
            }
            for (int v : r.dropped()) {
                if (!sharedKeys.contains(v) || !dropped.add(v)) {
                    throw bad("dropped peer " + v + " did not share keys with this client or is listed twice");
                }
                if (alive.contains(v)) {
                    throw bad("peer " + v + " is listed both alive and dropped");
                }
            }
            if (!alive.contains(myIndex)) {
                throw bad("the request lists this client as dropped, but it sent its masked input");
            }
            if (alive.size() + dropped.size() != sharedKeys.size()) {
                throw bad("the request does not account for every peer that shared keys");
            }
            if (alive.size() < threshold) {
                throw tooFew("only " + alive.size() + " peers alive, below the threshold " + threshold);
            }
            // a peer whose share did not open (a complaint in this client's masked input) gets no share from it
            List<KeyShare> seedShares = new ArrayList<>();
            for (int v : alive) {
                BigInteger s = v == myIndex ? mySelfMaskShare : peerSelfMaskShares.get(v);
                if (s != null) {
                    seedShares.add(new KeyShare(v, Shamir.toBytes(s, Shamir.SHARE_BYTES)));
                }
            }
            List<KeyShare> keyShares = new ArrayList<>();
            for (int d : dropped) {
                BigInteger s = peerMaskingKeyShares.get(d);
                if (s != null) {
                    keyShares.add(new KeyShare(d, Shamir.toBytes(s, Shamir.SHARE_BYTES)));
                }
            }
            state = State.COMPLETED;
            return new Unmasking(envelope, session.clone(), seedShares, keyShares);
        } catch (ProtocolException e) {
            throw fail(e);
        }
    }

    /** Gives up on the round (the server aborted it, or the client leaves). */
    public void abort(String reason) {
        if (state != State.COMPLETED) {
            state = State.ABORTED;
            abortReason = reason;
        }
    }

    // --------------------------------------------------------------------------------------------- checks

    private void expect(State s, String what) {
        if (state != s) {
            throw new ProtocolException(Code.WRONG_STATE, "client " + clientId + " cannot " + what + " in state " + state
                    + (abortReason != null ? " (" + abortReason + ")" : ""));
        }
    }

    private void checkRound(String t, long r) {
        if (!task.equals(t) || round != r) {
            throw new ProtocolException(Code.WRONG_STATE, "message for task " + t + " round " + r
                    + ", this aggregation is task " + task + " round " + round);
        }
    }

    private void checkSession(byte[] s) {
        if (!Arrays.equals(session, s)) {
            throw bad("message for another secure-aggregation session");
        }
    }

    private ProtocolException bad(String what) {
        return new ProtocolException(Code.BAD_MESSAGE, "secure aggregation, round " + round + ": " + what);
    }

    private ProtocolException tooFew(String what) {
        return new ProtocolException(Code.ABORTED, "secure aggregation, round " + round + ": " + what);
    }

    /** Any refused server message ends this client's part in the round. */
    private ProtocolException fail(ProtocolException e) {
        state = State.ABORTED;
        abortReason = e.getMessage();
        return e;
    }
}
