package io.dense4j.federated.secagg;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The mask generator: AES-256 in counter mode from a zero IV, keyed by HKDF over a 32-byte seed with the session id
 * as salt and the mask's purpose and length as info. Each key is used for exactly one vector (the session id is
 * fresh every round), which is what makes a fixed IV safe; its output is read as little-endian 32-bit words, i.e.
 * uniform elements of Z_2^32.
 */
public final class MaskPrg {
    private static final int CHUNK_INTS = 16 * 1024;

    private MaskPrg() {}

    /** target[i] += sign · PRG(seed)[i] mod 2^32, for sign +1 or −1. */
    public static void addMask(int[] target, byte[] seed, byte[] sessionId, String purpose, int sign) {
        if (sign != 1 && sign != -1) {
            throw new IllegalArgumentException("sign must be +1 or -1");
        }
        byte[] key = Hkdf.derive(seed, sessionId, ("dense4j/secagg/v1/mask/" + purpose + "/" + target.length)
                .getBytes(java.nio.charset.StandardCharsets.UTF_8), 32);
        try {
            Cipher c = Cipher.getInstance("AES/CTR/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(new byte[16]));
            byte[] zeros = new byte[CHUNK_INTS * 4];
            byte[] stream = new byte[CHUNK_INTS * 4];
            for (int off = 0; off < target.length; off += CHUNK_INTS) {
                int n = Math.min(CHUNK_INTS, target.length - off);
                int produced = c.update(zeros, 0, n * 4, stream, 0);
                if (produced != n * 4) {
                    throw new IllegalStateException("AES-CTR produced " + produced + " bytes for " + n * 4);
                }
                IntBuffer words = ByteBuffer.wrap(stream, 0, n * 4).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer();
                if (sign > 0) {
                    for (int i = 0; i < n; i++) {
                        target[off + i] += words.get(i);
                    }
                } else {
                    for (int i = 0; i < n; i++) {
                        target[off + i] -= words.get(i);
                    }
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-CTR is part of every JDK", e);
        }
    }

    /** The mask itself (tests and attack simulations). */
    public static int[] mask(int length, byte[] seed, byte[] sessionId, String purpose) {
        int[] m = new int[length];
        addMask(m, seed, sessionId, purpose, 1);
        return m;
    }
}
