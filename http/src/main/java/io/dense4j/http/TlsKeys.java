package io.dense4j.http;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEM files (what certbot, openssl and most CAs hand out) as the in-memory key stores Jetty takes. Reads
 * certificate chains and unencrypted private keys in PKCS#8 ({@code BEGIN PRIVATE KEY}: RSA, EC, Ed25519)
 * or PKCS#1 ({@code BEGIN RSA PRIVATE KEY}); other key formats are refused with the openssl command that
 * converts them. Errors name the file, never print key material.
 */
final class TlsKeys {
    private static final Pattern BLOCK = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END \\1-----");
    static final char[] IN_MEMORY_PASSWORD = "dense4j".toCharArray(); // the store never leaves the process

    private TlsKeys() {
    }

    /** A key store holding the PEM private key under alias "server" with its certificate chain. */
    static KeyStore keyStore(Path certificateChain, Path privateKey) {
        List<Certificate> chain = certificates(certificateChain);
        if (chain.isEmpty()) {
            throw new IllegalArgumentException(certificateChain + ": no PEM certificate (BEGIN CERTIFICATE) found");
        }
        PrivateKey key = privateKey(privateKey);
        if (!matches(key, chain.get(0).getPublicKey())) {
            throw new IllegalArgumentException("the private key in " + privateKey + " does not belong to the first "
                    + "certificate in " + certificateChain + " (the chain must start with the server's own certificate)");
        }
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("server", key, IN_MEMORY_PASSWORD, chain.toArray(new Certificate[0]));
            return ks;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalArgumentException("the private key in " + privateKey + " does not match the certificate in "
                    + certificateChain + ": " + e.getMessage(), e);
        }
    }

    /** A trust store of every certificate in a PEM file (the CAs whose client certificates are accepted). */
    static KeyStore trustStore(Path caCertificates) {
        List<Certificate> cas = certificates(caCertificates);
        if (cas.isEmpty()) {
            throw new IllegalArgumentException(caCertificates + ": no PEM certificate (BEGIN CERTIFICATE) found");
        }
        try {
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            for (int i = 0; i < cas.size(); i++) {
                ts.setCertificateEntry("ca-" + i, cas.get(i));
            }
            return ts;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a trust store: " + e.getMessage(), e);
        }
    }

    /** True when {@code key} signs what {@code publicKey} verifies. */
    private static boolean matches(PrivateKey key, java.security.PublicKey publicKey) {
        String alg = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            default -> key.getAlgorithm(); // Ed25519, Ed448
        };
        try {
            byte[] challenge = new byte[32];
            new java.security.SecureRandom().nextBytes(challenge);
            java.security.Signature sign = java.security.Signature.getInstance(alg);
            sign.initSign(key);
            sign.update(challenge);
            byte[] sig = sign.sign();
            java.security.Signature verify = java.security.Signature.getInstance(alg);
            verify.initVerify(publicKey);
            verify.update(challenge);
            return verify.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    static List<Certificate> certificates(Path pem) {
        List<Certificate> out = new ArrayList<>();
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            Matcher m = BLOCK.matcher(read(pem));
            while (m.find()) {
                if (m.group(1).equals("CERTIFICATE")) {
                    out.add(cf.generateCertificate(new ByteArrayInputStream(decode(m.group(2), pem))));
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(pem + ": not a valid PEM certificate: " + e.getMessage(), e);
        }
        return out;
    }

    static PrivateKey privateKey(Path pem) {
        Matcher m = BLOCK.matcher(read(pem));
        while (m.find()) {
            String type = m.group(1);
            byte[] der = decode(m.group(2), pem);
            switch (type) {
                case "PRIVATE KEY" -> {
                    return pkcs8(der, pem);
                }
                case "RSA PRIVATE KEY" -> {
                    return pkcs8(wrapPkcs1(der), pem);
                }
                case "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY" -> throw new IllegalArgumentException(pem + ": " + type
                        + " is not read; convert it with: openssl pkcs8 -topk8 -nocrypt -in KEY -out key-pkcs8.pem"
                        + " (or use a PKCS12 key store with its password)");
                default -> { }
            }
        }
        throw new IllegalArgumentException(pem + ": no PEM private key (BEGIN PRIVATE KEY) found");
    }

    private static PrivateKey pkcs8(byte[] der, Path pem) {
        for (String alg : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new IllegalArgumentException(pem + ": the private key is not an RSA, EC or EdDSA key in PKCS#8 form");
    }

    /** PKCS#1 RSAPrivateKey inside a PKCS#8 PrivateKeyInfo: version 0, rsaEncryption, the key as an OCTET STRING. */
    private static byte[] wrapPkcs1(byte[] pkcs1) {
        byte[] algorithm = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x01,
                0x01, 0x05, 0x00};
        byte[] version = {0x02, 0x01, 0x00};
        byte[] octets = der(0x04, pkcs1);
        byte[] body = new byte[version.length + algorithm.length + octets.length];
        System.arraycopy(version, 0, body, 0, version.length);
        System.arraycopy(algorithm, 0, body, version.length, algorithm.length);
        System.arraycopy(octets, 0, body, version.length + algorithm.length, octets.length);
        return der(0x30, body);
    }

    private static byte[] der(int tag, byte[] content) {
        byte[] len = content.length < 128 ? new byte[] {(byte) content.length} : longForm(content.length);
        byte[] out = new byte[1 + len.length + content.length];
        out[0] = (byte) tag;
        System.arraycopy(len, 0, out, 1, len.length);
        System.arraycopy(content, 0, out, 1 + len.length, content.length);
        return out;
    }

    private static byte[] longForm(int length) {
        byte[] n = BigInteger.valueOf(length).toByteArray();
        int skip = n[0] == 0 ? 1 : 0;
        byte[] out = new byte[1 + n.length - skip];
        out[0] = (byte) (0x80 | (n.length - skip));
        System.arraycopy(n, skip, out, 1, n.length - skip);
        return out;
    }

    private static byte[] decode(String base64, Path pem) {
        try {
            return Base64.getMimeDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(pem + ": a PEM block is not valid base64");
        }
    }

    private static String read(Path pem) {
        try {
            return Files.readString(pem, java.nio.charset.StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + pem + ": " + e.getMessage(), e);
        } catch (java.io.UncheckedIOException e) {
            throw new IllegalArgumentException(pem + ": not a PEM text file", e);
        }
    }
}
