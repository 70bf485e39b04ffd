package io.dense4j.federated.secagg;

import io.dense4j.federated.protocol.ProtocolException;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * AES-256-GCM for the secret shares that clients send each other through the server: 12-byte random IV, prepended,
 * 128-bit tag appended; the associated data binds a ciphertext to its session, sender and receiver, so the server
 * can neither read, alter, nor re-route one.
 */
public final class ShareCipher {
    public static final int IV_BYTES = 12;
    public static final int TAG_BYTES = 16;

    private ShareCipher() {}

    public static int sealedLength(int plaintextLength) {
        return IV_BYTES + plaintextLength + TAG_BYTES;
    }

    public static byte[] seal(byte[] key, byte[] plaintext, byte[] aad, SecureRandom random) {
        byte[] iv = new byte[IV_BYTES];
        random.nextBytes(iv);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BYTES * 8, iv));
            c.updateAAD(aad);
            byte[] ct = c.doFinal(plaintext);
            byte[] out = new byte[IV_BYTES + ct.length];
            System.arraycopy(iv, 0, out, 0, IV_BYTES);
            System.arraycopy(ct, 0, out, IV_BYTES, ct.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is part of every JDK", e);
        }
    }

    /** Decrypts and authenticates; {@code what} names the ciphertext in the error. */
    public static byte[] open(byte[] key, byte[] sealed, byte[] aad, String what) {
        if (sealed.length < IV_BYTES + TAG_BYTES) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, what + " is " + sealed.length
                    + " bytes, shorter than an IV and a tag");
        }
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BYTES * 8, sealed, 0, IV_BYTES));
            c.updateAAD(aad);
            return c.doFinal(sealed, IV_BYTES, sealed.length - IV_BYTES);
        } catch (AEADBadTagException e) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, what
                    + " failed authentication (tampered, or not meant for this client and session)");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM decryption", e);
        }
    }
}
