package io.dense4j.federated.secagg;

import io.dense4j.federated.protocol.ProtocolException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.interfaces.XECPrivateKey;
import java.security.interfaces.XECPublicKey;
import java.security.spec.NamedParameterSpec;
import java.security.spec.XECPrivateKeySpec;
import java.security.spec.XECPublicKeySpec;
import javax.crypto.KeyAgreement;

/**
 * X25519 (RFC 7748) through the JDK's XDH provider, with keys on the wire as their raw 32 bytes (little-endian
 * u-coordinate; the scalar as generated). Private keys are secret-shared, so they must round-trip through bytes.
 */
public final class X25519 {
    public static final int KEY_BYTES = 32;
    /** 2^255 − 19: a public key's u-coordinate must be below it (canonical encoding). */
    private static final BigInteger P = BigInteger.ONE.shiftLeft(255).subtract(BigInteger.valueOf(19));

    private X25519() {}

    public static KeyPair generate(SecureRandom random) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("X25519");
            g.initialize(NamedParameterSpec.X25519, random);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 is part of JDK 11+", e);
        }
    }

    public static byte[] publicBytes(PublicKey key) {
        BigInteger u = ((XECPublicKey) key).getU();
        byte[] be = u.toByteArray();
        byte[] le = new byte[KEY_BYTES];
        for (int i = 0; i < be.length && i < KEY_BYTES; i++) {
            le[i] = be[be.length - 1 - i];
        }
        return le;
    }

    /** Decodes a peer's public key; {@code what} names it in the error. */
    public static PublicKey publicKey(byte[] raw, String what) {
        if (raw == null || raw.length != KEY_BYTES) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, what + " must be " + KEY_BYTES
                    + " bytes, got " + (raw == null ? "none" : raw.length));
        }
        byte[] be = new byte[KEY_BYTES];
        for (int i = 0; i < KEY_BYTES; i++) {
            be[i] = raw[KEY_BYTES - 1 - i];
        }
        BigInteger u = new BigInteger(1, be);
        if (u.compareTo(P) >= 0) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, what + " is not a canonical X25519 key");
        }
        PublicKey key;
        try {
            key = KeyFactory.getInstance("XDH").generatePublic(new XECPublicKeySpec(NamedParameterSpec.X25519, u));
        } catch (GeneralSecurityException e) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, what + " is not an X25519 key: " + e.getMessage());
        }
        // A point of small order (u = 0, 1, p - 1, the two of order 8) gives every peer the all-zero secret, which
        // the JDK refuses: advertised, it made every other client's key agreement fail and aborted the round for
        // all. Refused here, where the server takes the key, by one agreement with a key of our own.
        try {
            KeyAgreement ka = KeyAgreement.getInstance("X25519");
            ka.init(PROBE);
            ka.doPhase(key, true);
            ka.generateSecret();
        } catch (InvalidKeyException e) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, what + " is a point of small order");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 key agreement", e);
        }
        return key;
    }

    /** The private key {@link #publicKey} checks peers' keys against. */
    private static final PrivateKey PROBE = generate(new SecureRandom()).getPrivate();

    public static byte[] privateBytes(PrivateKey key) {
        return ((XECPrivateKey) key).getScalar().orElseThrow(
                () -> new IllegalStateException("the X25519 private key does not expose its scalar"));
    }

    public static PrivateKey privateKey(byte[] scalar) {
        if (scalar.length != KEY_BYTES) {
            throw new IllegalArgumentException("an X25519 private key is " + KEY_BYTES + " bytes, got " + scalar.length);
        }
        try {
            return KeyFactory.getInstance("XDH").generatePrivate(new XECPrivateKeySpec(NamedParameterSpec.X25519, scalar));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 private key from 32 bytes", e);
        }
    }

    /** The raw shared secret; callers pass it through {@link Hkdf} before use. */
    public static byte[] agree(PrivateKey mine, PublicKey theirs, String what) {
        try {
            KeyAgreement ka = KeyAgreement.getInstance("X25519");
            ka.init(mine);
            ka.doPhase(theirs, true);
            return ka.generateSecret();
        } catch (InvalidKeyException e) {
            // e.g. a low-order point: the JDK refuses to produce an all-zero secret
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, "key agreement with " + what
                    + " failed: " + e.getMessage());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 key agreement", e);
        }
    }
}
