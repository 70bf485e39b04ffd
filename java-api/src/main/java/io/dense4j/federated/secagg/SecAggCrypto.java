package io.dense4j.federated.secagg;

import io.dense4j.federated.protocol.Message.Peer;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.List;

/**
 * What client and server must compute identically: the session id, the keys derived from X25519 agreements, the
 * associated data of share ciphertexts and the names of the masks. Every derived key is bound to the session id,
 * and the session id to the task, the round, the round's nonce, the threshold and every advertised key, so nothing
 * from one round or one set of participants is valid in another.
 */
final class SecAggCrypto {
    static final String VERSION = "dense4j/secagg/v1";
    /** Plaintext of one encrypted share pair: sender index, receiver index, masking-key share, self-mask-seed share. */
    static final int SHARE_PLAINTEXT_BYTES = 4 + 4 + 2 * Shamir.SHARE_BYTES;
    static final int SHARE_CIPHERTEXT_BYTES = ShareCipher.sealedLength(SHARE_PLAINTEXT_BYTES);

    private SecAggCrypto() {}

    /** SHA-256 over the round and the ordered list of participants with their keys. */
    static byte[] sessionId(String task, long round, byte[] roundNonce, int threshold, List<Peer> peersByIndex) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            writeString(out, VERSION + "/session");
            writeString(out, task);
            out.writeLong(round);
            out.writeInt(roundNonce.length);
            out.write(roundNonce);
            out.writeInt(threshold);
            out.writeInt(peersByIndex.size());
            for (Peer p : peersByIndex) {
                out.writeInt(p.index());
                writeString(out, p.client());
                out.write(p.encryptionKey());
                out.write(p.maskingKey());
            }
            return MessageDigest.getInstance("SHA-256").digest(bytes.toByteArray());
        } catch (IOException | NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 over an in-memory buffer", e);
        }
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    /** The AES-256-GCM key between two clients, from their encryption keys. */
    static byte[] shareKey(PrivateKey mine, PublicKey theirs, int a, int b, byte[] session, String what) {
        return Hkdf.derive(X25519.agree(mine, theirs, what), session, info("share-key", a, b), 32);
    }

    /** The seed of the pairwise mask between two clients, from their masking keys. */
    static byte[] pairSeed(PrivateKey mine, PublicKey theirs, int a, int b, byte[] session, String what) {
        return Hkdf.derive(X25519.agree(mine, theirs, what), session, info("pair-seed", a, b), 32);
    }

    /** Associated data of the share ciphertext from {@code from} to {@code to}. */
    static byte[] shareAad(byte[] session, int from, int to) {
        byte[] prefix = (VERSION + "/share/" + from + "/" + to + "/").getBytes(StandardCharsets.UTF_8);
        byte[] aad = new byte[prefix.length + session.length];
        System.arraycopy(prefix, 0, aad, 0, prefix.length);
        System.arraycopy(session, 0, aad, prefix.length, session.length);
        return aad;
    }

    static String selfMaskName(int index) {
        return "self/" + index;
    }

    static String pairMaskName(int a, int b) {
        return "pair/" + Math.min(a, b) + "/" + Math.max(a, b);
    }

    /** +1 when the lower-indexed client adds the pairwise mask, −1 for the other: the two cancel in the sum. */
    static int pairSign(int mine, int theirs) {
        return mine < theirs ? 1 : -1;
    }

    /** The X25519 public key of a private key (its agreement with the base point u = 9). */
    static byte[] publicOf(PrivateKey key) {
        byte[] base = new byte[X25519.KEY_BYTES];
        base[0] = 9;
        return X25519.agree(key, X25519.publicKey(base, "the base point"), "the base point");
    }

    private static byte[] info(String purpose, int a, int b) {
        return (VERSION + "/" + purpose + "/" + Math.min(a, b) + "/" + Math.max(a, b)).getBytes(StandardCharsets.UTF_8);
    }
}
