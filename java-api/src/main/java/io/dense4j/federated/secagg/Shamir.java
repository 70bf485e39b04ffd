package io.dense4j.federated.secagg;

import io.dense4j.federated.protocol.ProtocolException;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Shamir's t-of-n secret sharing of 32-byte secrets over the prime field GF(p), p = 2^256 + 297 (the smallest prime
 * above 2^256, so a whole secret is one field element). Share i is f(i) for i = 1..n of a random polynomial of degree
 * t − 1 with f(0) = secret; any t shares give the secret by Lagrange interpolation at 0, fewer give nothing.
 */
public final class Shamir {
    public static final BigInteger PRIME = BigInteger.ONE.shiftLeft(256).add(BigInteger.valueOf(297));
    /** Bytes of one share value (the field needs 257 bits). */
    public static final int SHARE_BYTES = 33;
    public static final int SECRET_BYTES = 32;

    private Shamir() {}

    /** Shares of {@code secret} for x = 1..n; element i-1 is the share of x = i. */
    public static BigInteger[] share(byte[] secret, int n, int t, SecureRandom random) {
        if (secret.length != SECRET_BYTES) {
            throw new IllegalArgumentException("secrets are " + SECRET_BYTES + " bytes, got " + secret.length);
        }
        if (t < 1 || t > n) {
            throw new IllegalArgumentException("threshold " + t + " must be in [1, n = " + n + "]");
        }
        BigInteger[] coef = new BigInteger[t];
        coef[0] = new BigInteger(1, secret);
        for (int k = 1; k < t; k++) {
            coef[k] = uniform(random);
        }
        BigInteger[] shares = new BigInteger[n];
        for (int i = 1; i <= n; i++) {
            BigInteger x = BigInteger.valueOf(i);
            BigInteger y = BigInteger.ZERO;
            for (int k = t - 1; k >= 0; k--) { // Horner
                y = y.multiply(x).add(coef[k]).mod(PRIME);
            }
            shares[i - 1] = y;
        }
        return shares;
    }

    /**
     * The secret from at least t shares (x → f(x)). With more than t, the first t (by x) interpolate and every
     * other share must lie on the same polynomial: a corrupted share is detected, never silently used.
     */
    public static byte[] reconstruct(Map<Integer, BigInteger> shares, int t, String what) {
        if (shares.size() < t) {
            throw new ProtocolException(ProtocolException.Code.ABORTED, "only " + shares.size() + " shares of " + what
                    + ", the threshold is " + t);
        }
        TreeMap<Integer, BigInteger> sorted = new TreeMap<>(shares);
        List<Integer> xs = new ArrayList<>(sorted.keySet()).subList(0, t);
        for (Map.Entry<Integer, BigInteger> e : sorted.entrySet()) {
            if (e.getKey() < 1 || e.getValue().signum() < 0 || e.getValue().compareTo(PRIME) >= 0) {
                throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, "share of " + what + " at x = "
                        + e.getKey() + " is outside the field");
            }
        }
        BigInteger secret = interpolate(sorted, xs, BigInteger.ZERO);
        for (Map.Entry<Integer, BigInteger> e : sorted.entrySet()) {
            if (!xs.contains(e.getKey())
                    && !interpolate(sorted, xs, BigInteger.valueOf(e.getKey())).equals(e.getValue())) {
                throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, "the shares of " + what
                        + " are inconsistent (the share at x = " + e.getKey() + " is not on the polynomial of the others)");
            }
        }
        if (secret.bitLength() > SECRET_BYTES * 8) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, "the shares of " + what
                    + " do not encode a " + SECRET_BYTES + "-byte secret");
        }
        return toBytes(secret, SECRET_BYTES);
    }

    /** f(at) from the points at {@code xs}, by Lagrange: Σ y_i Π_{j≠i} (at − x_j)/(x_i − x_j). */
    private static BigInteger interpolate(Map<Integer, BigInteger> shares, List<Integer> xs, BigInteger at) {
        BigInteger sum = BigInteger.ZERO;
        for (int xi : xs) {
            BigInteger num = BigInteger.ONE;
            BigInteger den = BigInteger.ONE;
            for (int xj : xs) {
                if (xj != xi) {
                    num = num.multiply(at.subtract(BigInteger.valueOf(xj))).mod(PRIME);
                    den = den.multiply(BigInteger.valueOf(xi - (long) xj)).mod(PRIME);
                }
            }
            sum = sum.add(shares.get(xi).multiply(num).multiply(den.modInverse(PRIME))).mod(PRIME);
        }
        return sum;
    }

    private static BigInteger uniform(SecureRandom random) {
        BigInteger r;
        do {
            r = new BigInteger(257, random); // rejection sampling: uniform in [0, p)
        } while (r.compareTo(PRIME) >= 0);
        return r;
    }

    /** Big-endian, left-padded to {@code length} bytes. */
    public static byte[] toBytes(BigInteger v, int length) {
        byte[] raw = v.toByteArray();
        byte[] out = new byte[length];
        int copy = Math.min(raw.length, length);
        if (raw.length > length && (raw.length != length + 1 || raw[0] != 0)) {
            throw new IllegalArgumentException(v.bitLength() + "-bit value does not fit " + length + " bytes");
        }
        System.arraycopy(raw, raw.length - copy, out, length - copy, copy);
        return out;
    }

    public static BigInteger fromBytes(byte[] b) {
        return new BigInteger(1, b);
    }
}
