package io.dense4j.federated.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.federated.protocol.ProtocolException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The secure-aggregation building blocks against published test vectors and their defining properties. */
class CryptoPrimitivesTest {
    static final HexFormat HEX = HexFormat.of();
    final SecureRandom random = new SecureRandom();

    @Test
    void hkdfMatchesRfc5869TestCase1() {
        byte[] ikm = new byte[22];
        java.util.Arrays.fill(ikm, (byte) 0x0b);
        byte[] salt = HEX.parseHex("000102030405060708090a0b0c");
        byte[] info = HEX.parseHex("f0f1f2f3f4f5f6f7f8f9");
        assertEquals("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
                HEX.formatHex(Hkdf.extract(salt, ikm)));
        assertEquals("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
                HEX.formatHex(Hkdf.derive(ikm, salt, info, 42)));
        assertThrows(IllegalArgumentException.class, () -> Hkdf.expand(new byte[32], info, 255 * 32 + 1));
    }

    @Test
    void x25519MatchesRfc7748AndRoundTripsKeys() {
        // RFC 7748 §6.1
        byte[] alice = HEX.parseHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        byte[] bobPublic = HEX.parseHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        byte[] shared = X25519.agree(X25519.privateKey(alice), X25519.publicKey(bobPublic, "Bob's key"), "Bob");
        assertEquals("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", HEX.formatHex(shared));

        KeyPair u = X25519.generate(random);
        KeyPair v = X25519.generate(random);
        byte[] uv = X25519.agree(u.getPrivate(), X25519.publicKey(X25519.publicBytes(v.getPublic()), "v"), "v");
        byte[] vu = X25519.agree(v.getPrivate(), X25519.publicKey(X25519.publicBytes(u.getPublic()), "u"), "u");
        assertArrayEquals(uv, vu);
        // a private key rebuilt from its 32 bytes (as Shamir reconstruction does) agrees the same secret
        byte[] again = X25519.agree(X25519.privateKey(X25519.privateBytes(u.getPrivate())), v.getPublic(), "v");
        assertArrayEquals(uv, again);
    }

    @Test
    void x25519RejectsMalformedAndLowOrderKeys() {
        assertThrows(ProtocolException.class, () -> X25519.publicKey(new byte[31], "k"));
        byte[] nonCanonical = new byte[32];
        java.util.Arrays.fill(nonCanonical, (byte) 0xff);
        nonCanonical[31] = 0x7f; // 2^255 - 1 > p
        assertThrows(ProtocolException.class, () -> X25519.publicKey(nonCanonical, "k"));
        // the canonical points of small order (RFC 7748's list: 0, 1, the two of order 8, p - 1) are refused where a
        // key is decoded: advertised, one made every peer's agreement fail and aborted the round for every client
        java.math.BigInteger p = java.math.BigInteger.ONE.shiftLeft(255).subtract(java.math.BigInteger.valueOf(19));
        for (java.math.BigInteger small : new java.math.BigInteger[] {java.math.BigInteger.ZERO, java.math.BigInteger.ONE,
                new java.math.BigInteger("325606250916557431795983626356110631294008115727848805560023387167927233504"),
                new java.math.BigInteger("39382357235489614581723060781553021112529911719440698176882885853963445705823"),
                p.subtract(java.math.BigInteger.ONE)}) {
            byte[] be = small.toByteArray();
            byte[] raw = new byte[32];
            for (int i = 0; i < be.length && i < 32; i++) {
                raw[i] = be[be.length - 1 - i];
            }
            ProtocolException e = assertThrows(ProtocolException.class, () -> X25519.publicKey(raw, "key of peer 3"),
                    small.toString());
            assertTrue(e.getMessage().contains("key of peer 3") && e.getMessage().contains("small order"),
                    e.getMessage());
        }
        // an ordinary key passes
        KeyPair u = X25519.generate(random);
        assertEquals(u.getPublic(), X25519.publicKey(X25519.publicBytes(u.getPublic()), "k"));
    }

    @Test
    void shareCipherAuthenticatesCiphertextAndAssociatedData() {
        byte[] key = new byte[32];
        random.nextBytes(key);
        byte[] aad = "session|1|2".getBytes(StandardCharsets.UTF_8);
        byte[] msg = "a share".getBytes(StandardCharsets.UTF_8);
        byte[] sealed = ShareCipher.seal(key, msg, aad, random);
        assertEquals(ShareCipher.sealedLength(msg.length), sealed.length);
        assertArrayEquals(msg, ShareCipher.open(key, sealed, aad, "c"));
        assertFalse(java.util.Arrays.equals(sealed, ShareCipher.seal(key, msg, aad, random)), "fresh IV per message");
        for (int i = 0; i < sealed.length; i++) {
            byte[] t = sealed.clone();
            t[i] ^= 1;
            assertThrows(ProtocolException.class, () -> ShareCipher.open(key, t, aad, "c"), "flipped byte " + i);
        }
        assertThrows(ProtocolException.class,
                () -> ShareCipher.open(key, sealed, "session|1|3".getBytes(StandardCharsets.UTF_8), "c"));
        assertThrows(ProtocolException.class, () -> ShareCipher.open(key, new byte[5], aad, "c"));
    }

    @Test
    void shamirIsAPrimeFieldAndAnyTSharesReconstruct() {
        assertTrue(Shamir.PRIME.isProbablePrime(200));
        assertEquals(257, Shamir.PRIME.bitLength());
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        secret[0] = (byte) 0xff; // the top bits set: the secret must still fit the field
        int n = 10;
        int t = 6;
        BigInteger[] shares = Shamir.share(secret, n, t, random);
        SplittableRandom pick = new SplittableRandom(7);
        for (int trial = 0; trial < 20; trial++) {
            Map<Integer, BigInteger> subset = new LinkedHashMap<>();
            while (subset.size() < t + pick.nextInt(n - t + 1)) {
                int x = 1 + pick.nextInt(n);
                subset.put(x, shares[x - 1]);
            }
            assertArrayEquals(secret, Shamir.reconstruct(subset, t, "s"));
        }
        Map<Integer, BigInteger> tooFew = new LinkedHashMap<>();
        for (int x = 1; x < t; x++) {
            tooFew.put(x, shares[x - 1]);
        }
        assertEquals(ProtocolException.Code.ABORTED,
                assertThrows(ProtocolException.class, () -> Shamir.reconstruct(tooFew, t, "s")).code());
        Map<Integer, BigInteger> corrupted = new LinkedHashMap<>();
        for (int x = 1; x <= n; x++) {
            corrupted.put(x, shares[x - 1]);
        }
        corrupted.put(9, shares[8].add(BigInteger.ONE).mod(Shamir.PRIME));
        ProtocolException e = assertThrows(ProtocolException.class, () -> Shamir.reconstruct(corrupted, t, "s"));
        assertTrue(e.getMessage().contains("x = 9"), e.getMessage());
    }

    @Test
    void fewerThanThresholdSharesAreConsistentWithEverySecret() {
        // t-1 shares of a degree t-1 polynomial fit a polynomial through ANY value at 0: here two different
        // secrets share the same first t-1 shares when the other coefficients are chosen accordingly
        int t = 3;
        byte[] s1 = new byte[32];
        s1[31] = 5;
        BigInteger[] sh = Shamir.share(s1, 5, t, random);
        Map<Integer, BigInteger> two = Map.of(1, sh[0], 2, sh[1]);
        for (int other = 0; other < 4; other++) {
            // a third point (0, other) with the two known ones determines a polynomial: it exists for every value
            Map<Integer, BigInteger> withGuess = new LinkedHashMap<>(two);
            BigInteger guess = BigInteger.valueOf(other);
            // interpolate f(3) of the polynomial through (0, guess), (1, sh1), (2, sh2), then check it reconstructs
            BigInteger f3 = guess.subtract(sh[0].multiply(BigInteger.valueOf(3)))
                    .add(sh[1].multiply(BigInteger.valueOf(3))).mod(Shamir.PRIME);
            withGuess.put(3, f3);
            assertEquals(guess, new BigInteger(1, Shamir.reconstruct(withGuess, t, "s")));
        }
    }

    @Test
    void pairwiseMasksCancelAndDependOnEverything() {
        byte[] seed = new byte[32];
        random.nextBytes(seed);
        byte[] session = new byte[32];
        random.nextBytes(session);
        for (int len : new int[] {1, 31, 33, 784, 16 * 1024 + 3}) {
            int[] x = new int[len];
            for (int i = 0; i < len; i++) {
                x[i] = random.nextInt();
            }
            int[] y = x.clone();
            MaskPrg.addMask(y, seed, session, "pair/1/2", 1);
            assertFalse(java.util.Arrays.equals(x, y) && len > 1);
            MaskPrg.addMask(y, seed, session, "pair/1/2", -1);
            assertArrayEquals(x, y, "+mask then -mask is the identity mod 2^32, length " + len);
        }
        int[] a = MaskPrg.mask(1000, seed, session, "self/1");
        assertArrayEquals(a, MaskPrg.mask(1000, seed, session, "self/1"), "deterministic");
        assertNotEquals(a[0], MaskPrg.mask(1000, seed, session, "self/2")[0], "purpose separates masks");
        byte[] otherSession = session.clone();
        otherSession[0] ^= 1;
        assertFalse(java.util.Arrays.equals(a, MaskPrg.mask(1000, seed, otherSession, "self/1")), "session separates masks");
        // the words look uniform: mean of the top bit and of the low byte
        int[] big = MaskPrg.mask(1 << 16, seed, session, "uniformity");
        long negatives = java.util.Arrays.stream(big).filter(v -> v < 0).count();
        assertEquals(1 << 15, negatives, 6 * Math.sqrt(1 << 14));
    }

    @Test
    void quantizationIsUnbiasedAndSumsWrapExactly() {
        double bound = 2.5;
        int summands = 50;
        double scale = Quantizer.scale(bound, summands);
        SplittableRandom rng = new SplittableRandom(3);
        for (int len : new int[] {1, 31, 33, 784, 1000}) {
            float[][] xs = new float[summands][len];
            double[] exact = new double[len];
            int[] sum = new int[len];
            for (int k = 0; k < summands; k++) {
                for (int i = 0; i < len; i++) {
                    // extremes included: every summand at the bound must still not overflow
                    xs[k][i] = i % 7 == 0 ? (float) bound : (float) (rng.nextDouble() * 2 * bound - bound);
                    exact[i] += xs[k][i];
                }
                int[] q = Quantizer.quantize(xs[k], bound, scale, rng);
                for (int i = 0; i < len; i++) {
                    sum[i] += q[i];
                }
            }
            double[] back = Quantizer.dequantize(sum, scale);
            for (int i = 0; i < len; i++) {
                // each stochastic rounding errs by < 1/scale
                assertEquals(exact[i], back[i], summands / scale + 1e-6 * Math.abs(exact[i]), "length " + len + " index " + i);
            }
        }
        // unbiased: the mean of many roundings of one value converges to it
        float[] one = {0.123456f};
        double mean = 0;
        double coarse = 10; // a coarse scale makes rounding visible
        for (int r = 0; r < 200_000; r++) {
            mean += Quantizer.quantize(one, 1, coarse, rng)[0];
        }
        assertEquals(1.23456, mean / 200_000, 0.005);
        assertThrows(IllegalArgumentException.class, () -> Quantizer.scale(1e9, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> Quantizer.quantize(new float[] {Float.NaN}, 1, 10, rng));
    }
}
