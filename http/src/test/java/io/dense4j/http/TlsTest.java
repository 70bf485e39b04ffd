package io.dense4j.http;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.ArrayList;
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
        return HttpClient.newBuilder().sslContext(sslContext(clientStore)).version(HttpClient.Version.HTTP_1_1).build();
    }

    private static SSLContext sslContext(String clientStore) throws Exception {
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
        return ssl;
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
            // plain HTTP on the TLS port is never served, but told what is wrong: 400, whatever it asks for, with
            // or without a token (which it sent in the clear); the port goes on serving TLS
            int open = f.server.connectionGuard().openConnections(); // the clients above keep theirs
            for (String request : List.of("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n",
                    "DELETE /admin/models/iris/versions/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n",
                    "POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{\"a\":", "GET / HTTP/1.0\r\n\r\n")) {
                try (RawHttp raw = new RawHttp(f.server.port())) {
                    raw.write(request);
                    RawHttp.Response r = raw.read();
                    assertEquals(400, r.status(), request);
                    assertTrue(ServerFixture.JSON.readTree(r.body()).path("error").asText().contains("use https://"), r.body());
                }
            }
            assertEquals(2, f.registry.versions(ServerFixture.MODEL).size());
            // every refused connection is let go (the guard counts each socket once, TLS or not)
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            while (f.server.connectionGuard().openConnections() > open) {
                assertTrue(System.nanoTime() < deadline, f.server.connectionGuard().openConnections() + " connections open, "
                        + open + " before");
                Thread.sleep(20);
            }
            assertEquals(200, get(client(null), base + "/v2/health/live", null).statusCode());
            // a client that does not trust the certificate refuses the connection
            assertThrows(IOException.class, () -> HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create(base + "/v2/health/live")).build(), HttpResponse.BodyHandlers.ofString()));
        }
    }

    /**
     * Over TLS too, a request refused before its body is read gets its answer while the client is still sending
     * the body: the lingering close reads and drops the rest, decrypted, then closes the TLS session. (Jetty's
     * own close after TLS lost no answer here either; this checks the lingering endpoint under TLS.)
     */
    @Test
    void aRefusedUploadOverTlsGetsItsAnswerWhileItsBodyIsStillBeingSent() throws Exception {
        ServerConfig.TlsConfig tls = ServerConfig.TlsConfig.keyStore(certs.resolve("server.p12"), "changeit");
        byte[] chunk = new byte[64 << 10];
        Arrays.fill(chunk, (byte) '1');
        long size = 3L << 20;
        try (ServerFixture f = new ServerFixture(tmp, b -> b.tls(tls).adminToken("admin-secret"))) {
            SSLContext ssl = sslContext(null);
            List<String> lost = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                try (SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", f.server.port())) {
                    s.setSoTimeout(30_000);
                    s.getOutputStream().write(("POST /admin/models/iris/versions HTTP/1.1\r\nHost: x\r\n"
                            + "Authorization: Bearer wrong\r\nContent-Type: application/octet-stream\r\n"
                            + "Content-Length: " + size + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    java.util.concurrent.atomic.AtomicBoolean answered = new java.util.concurrent.atomic.AtomicBoolean();
                    java.util.concurrent.CompletableFuture<String> sending = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                        try {
                            for (long left = size; left > 0; left -= chunk.length) {
                                s.getOutputStream().write(chunk, 0, (int) Math.min(chunk.length, left));
                            }
                            return null;
                        } catch (IOException e) {
                            return answered.get() ? null : "sending failed before the answer: " + e;
                        }
                    });
                    String head;
                    try {
                        head = new String(s.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1);
                    } catch (IOException e) {
                        head = "no answer: " + e;
                    }
                    answered.set(true);
                    s.close();
                    String failure = sending.get(60, TimeUnit.SECONDS);
                    if (!head.equals("HTTP/1.1 403") || failure != null) {
                        lost.add("#" + i + " " + head + (failure == null ? "" : " " + failure));
                    }
                }
            }
            assertEquals(List.of(), lost, lost.size() + " of 40 refused uploads lost their answer");
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

    /** One request over a fresh TLS connection from the loopback, as a probe makes it: the status, or 0. */
    private static int httpsStatus(SSLContext ssl, int port, String path) {
        try (SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            String head = new String(s.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1);
            return head.startsWith("HTTP/1.1 ") ? Integer.parseInt(head.substring(9, 12)) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    /** The first flight of a TLS client: a real ClientHello record. */
    private static byte[] clientHello(SSLContext ssl, int port) throws Exception {
        SSLEngine engine = ssl.createSSLEngine("localhost", port);
        engine.setUseClientMode(true);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.beginHandshake();
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] hello = new byte[out.remaining()];
        out.get(hello);
        assertEquals(0x16, hello[0], "a TLS handshake record");
        return hello;
    }

    @Test
    void halfOpenHandshakesAreCutAndProbesOverTlsAnswered() throws Exception {
        ServerConfig.TlsConfig tls = ServerConfig.TlsConfig.keyStore(certs.resolve("server.p12"), "changeit");
        ServerConfig.ClientLimits limits = ServerConfig.ClientLimits.defaults().withMaxConnectionsPerClient(40)
                .withHeaderTimeout(Duration.ofSeconds(2)).withProbationTimeout(Duration.ofSeconds(1));
        try (ServerFixture f = new ServerFixture(tmp, b -> b.tls(tls).clients(limits))) {
            int port = f.server.port();
            SSLContext ssl = sslContext(null);
            byte[] hello = clientHello(ssl, port);
            List<Socket> attack = new ArrayList<>();
            long t0 = System.nanoTime();
            try {
                // 90 connections from the probes' address, more than its share of 40: 30 send nothing, 30 half a
                // ClientHello, 30 complete the handshake and never send a request
                for (int i = 0; i < 30; i++) {
                    attack.add(new Socket("127.0.0.1", port));
                    Socket half = new Socket("127.0.0.1", port);
                    half.getOutputStream().write(hello, 0, hello.length / 2);
                    attack.add(half);
                    SSLSocket shaken = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", port);
                    shaken.startHandshake();
                    attack.add(shaken);
                }
                // probes over TLS from the same address are answered meanwhile
                for (int i = 0; i < 3; i++) {
                    long p0 = System.nanoTime();
                    assertEquals(200, httpsStatus(ssl, port, "/v2/health/live"));
                    assertEquals(200, httpsStatus(ssl, port, "/v2/health/ready"));
                    assertTrue(System.nanoTime() - p0 < TimeUnit.MILLISECONDS.toNanos(SameAddressAttackTest.PROBE_TIMEOUT_MS * 2));
                }
                // every one of them is closed by the server once its header deadline (2 s, 1 s on probation) passes
                for (Socket s : attack) {
                    s.setSoTimeout((int) Math.max(1, 6000 - (System.nanoTime() - t0) / 1_000_000));
                    try {
                        assertEquals(-1, s.getInputStream().read(), "nothing but the close");
                    } catch (javax.net.ssl.SSLException | java.net.SocketException closed) {
                        // closed during the handshake, or reset
                    }
                }
                assertTrue(f.server.connectionGuard().headerTimeouts() >= 90, "header timeouts " + f.server.connectionGuard().headerTimeouts());
            } finally {
                for (Socket s : attack) {
                    s.close();
                }
            }
            // each TLS socket counts once toward the connection cap (Jetty announces two connections per socket)
            List<SSLSocket> open = new ArrayList<>();
            try {
                for (int i = 0; i < 10; i++) {
                    SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", port);
                    s.startHandshake();
                    open.add(s);
                }
                assertEquals(10, f.server.connectionGuard().cappedConnections());
            } finally {
                for (SSLSocket s : open) {
                    s.close();
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30); // a bound: exits once all are closed
            while (f.server.connectionGuard().cappedConnections() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(0, f.server.connectionGuard().cappedConnections(), "connections counted after all closed");
        }
    }

    @Test
    void tricklingHandshakesFromManyAddressesAreCutWhileProbesOverTlsAreAnswered() throws Exception {
        SameAddressAttackTest.assumeFileDescriptors(2 * 400 + 500);
        ServerConfig.TlsConfig tls = ServerConfig.TlsConfig.keyStore(certs.resolve("server.p12"), "changeit");
        // default shares (256 per client), a short header deadline to keep the test short
        ServerConfig.ClientLimits limits = ServerConfig.ClientLimits.defaults().withHeaderTimeout(Duration.ofSeconds(2));
        try (ServerFixture f = new ServerFixture(tmp, b -> b.tls(tls).clients(limits))) {
            int port = f.server.port();
            SSLContext ssl = sslContext(null);
            byte[] hello = clientHello(ssl, port);
            List<Socket> attack = new ArrayList<>();
            try {
                // 300 from the probes' own address (over its share), 20 from each of five others: a real
                // ClientHello, one byte per connection every 100 ms, which would take the attackers half a minute
                for (int i = 0; i < 300; i++) {
                    attack.add(new Socket("127.0.0.1", port));
                }
                for (int a = 0; a < 5; a++) {
                    for (int i = 0; i < 20; i++) {
                        Socket s = new Socket();
                        s.bind(new java.net.InetSocketAddress("127.0.0." + (40 + a), 0));
                        s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 5000);
                        attack.add(s);
                    }
                }
                long t0 = System.nanoTime();
                int open = attack.size();
                for (int round = 0; open > 0 && round < hello.length; round++) {
                    open = 0;
                    for (Socket s : attack) {
                        if (!s.isClosed()) {
                            try {
                                s.getOutputStream().write(hello[round]);
                                open++;
                            } catch (IOException cut) {
                                s.close(); // the server closed it
                            }
                        }
                    }
                    if (round % 5 == 0) { // probes over TLS from the attacked address, fresh connections
                        long p0 = System.nanoTime();
                        assertEquals(200, httpsStatus(ssl, port, round % 10 == 0 ? "/v2/health/live" : "/v2/health/ready"));
                        long ms = (System.nanoTime() - p0) / 1_000_000;
                        assertTrue(ms < 5000, "a probe over TLS took " + ms + " ms");
                    }
                    if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(12)) {
                        break;
                    }
                    Thread.sleep(100);
                }
                // the handshake counts toward the header deadline however it trickles: each was cut at about 2 s
                assertEquals(0, open, "trickling handshakes still open after " + (System.nanoTime() - t0) / 1_000_000 + " ms");
                assertTrue(f.server.connectionGuard().headerTimeouts() >= attack.size(),
                        "header timeouts " + f.server.connectionGuard().headerTimeouts());
            } finally {
                for (Socket s : attack) {
                    s.close();
                }
            }
        }
    }

    /**
     * A burst of TLS connections over the caps: sockets shed or timed out while the HTTPS port's detector handed
     * them to TLS were admitted again and counted for ever (found by an attack: 18-31 of a cap of 32 stuck after one
     * burst of 150). Every one is let go once the clients close.
     */
    @Test
    void aBurstOfTlsConnectionsOverTheCapsLeavesNoneCounted() throws Exception {
        ServerConfig.TlsConfig tls = ServerConfig.TlsConfig.keyStore(certs.resolve("server.p12"), "changeit");
        try (ServerFixture f = new ServerFixture(tmp, b -> b.tls(tls).clients(ServerConfig.ClientLimits.defaults()
                .withMaxConnections(32).withMaxConnectionsPerClient(8)))) {
            int port = f.server.port();
            SSLContext ssl = sslContext(null);
            for (int burst = 0; burst < 3; burst++) {
                List<Socket> held = java.util.Collections.synchronizedList(new ArrayList<>());
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < 150; i++) {
                    threads.add(new Thread(() -> {
                        try {
                            SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket();
                            held.add(s);
                            s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 10_000);
                            s.setSoTimeout(10_000);
                            s.startHandshake();
                        } catch (IOException shedOrTimedOut) {
                            // over the caps: what the guard does with it is the point
                        }
                    }));
                }
                threads.forEach(Thread::start);
                for (Thread t : threads) {
                    t.join();
                }
                Thread.sleep(1000);
                for (Socket s : held) {
                    s.close();
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (f.server.connectionGuard().openConnections() > 0) {
                assertTrue(System.nanoTime() < deadline, f.server.connectionGuard().openConnections()
                        + " connections still counted after every client closed");
                Thread.sleep(50);
            }
            assertEquals(200, httpsStatus(ssl, port, "/v2/health/ready"));
        }
    }

    @Test
    void overItsShareATlsClientGetsAnswersNotClosedConnections() throws Exception {
        ServerConfig.TlsConfig tls = ServerConfig.TlsConfig.keyStore(certs.resolve("server.p12"), "changeit");
        try (ServerFixture f = new ServerFixture(tmp, b -> b.tls(tls).clients(ServerConfig.ClientLimits.defaults()
                .withMaxConnectionsPerClient(2).withProbationTimeout(Duration.ofSeconds(1)).withHeaderTimeout(Duration.ofSeconds(5))))) {
            int port = f.server.port();
            SSLContext ssl = sslContext(null);
            List<SSLSocket> held = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", port);
                    s.startHandshake();
                    held.add(s);
                }
                assertEquals(429, httpsStatus(ssl, port, "/v2/models/iris"));
                assertEquals(200, httpsStatus(ssl, port, "/v2/health/ready"));
                // a probe whose handshake starts late (it waited behind others') still has its probation time after it
                try (Socket tcp = new Socket("127.0.0.1", port)) {
                    Thread.sleep(1500); // past the probation timeout, within the header timeout
                    SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket(tcp, "127.0.0.1", port, true);
                    s.setSoTimeout(5000);
                    s.startHandshake();
                    s.getOutputStream().write("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    assertEquals("HTTP/1.1 200", new String(s.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1));
                }
            } finally {
                for (SSLSocket s : held) {
                    s.close();
                }
            }
        }
    }

    @Test
    void certificatesOfTheTestCaParse() {
        List<Certificate> cas = TlsKeys.certificates(certs.resolve("ca.pem"));
        assertEquals(1, cas.size());
    }
}
