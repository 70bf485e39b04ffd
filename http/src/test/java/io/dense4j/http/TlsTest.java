package io.dense4j.http;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTPS with certificates generated for the test by the JDK's keytool: a self-signed server certificate (as
 * a PKCS12 key store and as PEM files), a test CA, a client certificate it issued and a rogue self-signed
 * one. Checks TLS from a real client, that plain HTTP gets nothing on the TLS port, and that admin routes
 * demand a client certificate from the admin CA when one is configured.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsTest {
    private static final char[] PW = "changeit".toCharArray();

    @TempDir
    static Path certs;
    @TempDir
    Path tmp;

    private static void keytool(String... args) throws Exception {
        Path tool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        Assumptions.assumeTrue(Files.isExecutable(tool), "keytool is missing from this JDK: " + tool);
        List<String> cmd = new java.util.ArrayList<>(List.of(tool.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(certs.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + "\n" + out);
    }

    @BeforeAll
    static void makeCertificates() throws Exception {
        String store = "-storetype";
        keytool("-genkeypair", "-alias", "ca", "-keystore", "ca.p12", store, "PKCS12", "-storepass", "changeit",
                "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=dense4j test CA", "-validity", "2", "-ext", "bc:c");
        keytool("-exportcert", "-rfc", "-alias", "ca", "-keystore", "ca.p12", "-storepass", "changeit", "-file", "ca.pem");
        keytool("-genkeypair", "-alias", "server", "-keystore", "server.p12", store, "PKCS12", "-storepass", "changeit",
                "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=localhost", "-validity", "2",
                "-ext", "san=ip:127.0.0.1,dns:localhost");
        keytool("-exportcert", "-rfc", "-alias", "server", "-keystore", "server.p12", "-storepass", "changeit", "-file", "server.pem");
        keytool("-genkeypair", "-alias", "client", "-keystore", "client.p12", store, "PKCS12", "-storepass", "changeit",
                "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=alice", "-validity", "2");
        keytool("-certreq", "-alias", "client", "-keystore", "client.p12", "-storepass", "changeit", "-file", "client.csr");
        keytool("-gencert", "-alias", "ca", "-keystore", "ca.p12", "-storepass", "changeit", "-infile", "client.csr",
                "-outfile", "client.crt", "-validity", "2");
        keytool("-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem", "-keystore", "client.p12", "-storepass", "changeit");
        keytool("-importcert", "-alias", "client", "-file", "client.crt", "-keystore", "client.p12", "-storepass", "changeit");
        keytool("-genkeypair", "-alias", "rogue", "-keystore", "rogue.p12", store, "PKCS12", "-storepass", "changeit",
                "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=mallory", "-validity", "2");
        // the server key as PEM files, PKCS#8 and PKCS#1
        KeyStore ks = load(certs.resolve("server.p12"));
        byte[] pkcs8 = ((PrivateKey) ks.getKey("server", PW)).getEncoded();
        Files.writeString(certs.resolve("server-key.pem"), pem("PRIVATE KEY", pkcs8));
        assertEquals(0x04, pkcs8[22], "RSA PKCS#8 layout"); // 2048-bit: the PKCS#1 key starts at byte 26
        Files.writeString(certs.resolve("server-key-pkcs1.pem"), pem("RSA PRIVATE KEY", Arrays.copyOfRange(pkcs8, 26, pkcs8.length)));
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static KeyStore load(Path p12) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            ks.load(in, PW);
        }
        return ks;
    }

    /** A client trusting the server's self-signed certificate, presenting {@code clientStore}'s key if given. */
    private static HttpClient client(String clientStore) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("server", load(certs.resolve("server.p12")).getCertificate("server"));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        KeyManagerFactory kmf = null;
        if (clientStore != null) {
            kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(load(certs.resolve(clientStore)), PW);
        }
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build();
    }

    private static HttpResponse<String> get(HttpClient c, String url, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return c.send(b.GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private void servesHttpsOnly(ServerConfig.TlsConfig tls) throws Exception {
        try (ServerFixture f = new ServerFixture(tmp, b -> b.tls(tls))) {
            String base = "https://127.0.0.1:" + f.server.port();
            assertEquals(200, get(client(null), base + "/v2/health/live", null).statusCode());
            HttpResponse<String> infer = client(null).send(HttpRequest.newBuilder(URI.create(base + "/v2/models/iris/infer"))
                    .POST(HttpRequest.BodyPublishers.ofString(ServerFixture.inferBody(new float[][] {{1, 2, 3, 4}}, null))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, infer.statusCode(), infer.body());
            // plain HTTP on the TLS port gets no answer from the API
            try (RawHttp raw = new RawHttp(f.server.port())) {
                raw.write("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
                try {
                    RawHttp.Response r = raw.read();
                    assertTrue(r.status() == 400, "plain HTTP on the TLS port: " + r.status());
                } catch (IOException closed) {
                    // closed without an HTTP answer: fine
                }
            }
            // a client that does not trust the certificate refuses the connection
            assertThrows(IOException.class, () -> HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(base + "/v2/health/live")).build(), HttpResponse.BodyHandlers.ofString()));
        }
    }

    @Test
    void httpsFromAKeyStore() throws Exception {
        servesHttpsOnly(ServerConfig.TlsConfig.keyStore(certs.resolve("server.p12"), "changeit"));
    }

    @Test
    void httpsFromPemFiles() throws Exception {
        servesHttpsOnly(ServerConfig.TlsConfig.pem(certs.resolve("server.pem"), certs.resolve("server-key.pem")));
    }

    @Test
    void httpsFromAPkcs1RsaKey() throws Exception {
        servesHttpsOnly(ServerConfig.TlsConfig.pem(certs.resolve("server.pem"), certs.resolve("server-key-pkcs1.pem")));
    }

    @Test
    void badPemFilesAreClearErrors() throws Exception {
        Path notPem = Files.writeString(tmp.resolve("x.pem"), "hello");
        var e = assertThrows(IllegalArgumentException.class,
                () -> TlsKeys.keyStore(certs.resolve("server.pem"), notPem));
        assertTrue(e.getMessage().contains("no PEM private key"), e.getMessage());
        Path ec = Files.writeString(tmp.resolve("ec.pem"), "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TlsKeys.privateKey(ec)).getMessage().contains("openssl pkcs8"));
        // the key of another certificate
        Path caKey = Files.writeString(tmp.resolve("ca-key.pem"), pem("PRIVATE KEY",
                ((PrivateKey) load(certs.resolve("ca.p12")).getKey("ca", PW)).getEncoded()));
        assertThrows(IllegalArgumentException.class, () -> TlsKeys.keyStore(certs.resolve("server.pem"), caKey));
    }

    @Test
    void adminApiRequiresAClientCertificateFromTheAdminCa() throws Exception {
        ServerConfig.TlsConfig tls = ServerConfig.TlsConfig.keyStore(certs.resolve("server.p12"), "changeit")
                .withAdminClientCa(certs.resolve("ca.pem"));
        try (ServerFixture f = new ServerFixture(tmp, b -> b.tls(tls).adminToken("admin-secret"))) {
            String base = "https://127.0.0.1:" + f.server.port();
            HttpClient alice = client("client.p12");
            HttpClient anonymous = client(null);
            assertEquals(200, get(alice, base + "/admin/models", "admin-secret").statusCode());
            HttpResponse<String> moved = alice.send(HttpRequest.newBuilder(URI.create(base + "/admin/models/iris/aliases/stable"))
                    .header("Authorization", "Bearer admin-secret").PUT(HttpRequest.BodyPublishers.ofString("{\"version\": 2}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, moved.statusCode(), moved.body());
            List<io.dense4j.registry.HistoryEntry> h = f.registry.history("iris");
            assertEquals("alice", h.get(h.size() - 1).actor()); // the certificate's name is the actor
            assertEquals(403, get(alice, base + "/admin/models", "wrong").statusCode()); // both factors are needed
            HttpResponse<String> noCert = get(anonymous, base + "/admin/models", "admin-secret");
            assertEquals(403, noCert.statusCode());
            assertTrue(noCert.body().contains("client certificate"), noCert.body());
            assertEquals(200, get(anonymous, base + "/v2/models/iris", null).statusCode()); // inference needs no certificate
            // a certificate the admin CA did not issue: the handshake fails, or the request is refused
            try {
                assertEquals(403, get(client("rogue.p12"), base + "/admin/models", "admin-secret").statusCode());
            } catch (IOException handshakeRefused) {
                // refused during the handshake
            }
        }
        // a client CA without TLS is a configuration error
        assertThrows(IllegalArgumentException.class, () -> new ServerConfig.TlsConfig(null, null, null, null, null,
                certs.resolve("ca.pem")));
    }

    @Test
    void certificatesOfTheTestCaParse() {
        List<Certificate> cas = TlsKeys.certificates(certs.resolve("ca.pem"));
        assertEquals(1, cas.size());
    }
}
