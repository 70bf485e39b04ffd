package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.federated.HttpServerConnection;
import io.dense4j.federated.protocol.Message;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three parties as three separate JVMs ({@code dense4j federated join}, started with this build's classpath), each
 * with its own data shard on its own disk (two CSV files and an MNIST-layout IDX directory), against a server on
 * loopback, over HTTP and over HTTPS with a self-signed certificate the parties trust explicitly.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class FederatedProcessesTest {
    @TempDir
    Path tmp;

    private static final String[] PARTIES = {"north", "south", "east"};

    @Test
    void threeClientJvmsCompleteSecureAggregationRoundsOverHttp() throws Exception {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t)) {
            run(f, 3, List.of());
        }
    }

    @Test
    void threeClientJvmsOverHttpsTrustingASelfSignedCertificate() throws Exception {
        SelfSignedCertificate cert = SelfSignedCertificate.create(java.nio.file.Files.createDirectories(tmp.resolve("tls")));
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t, b -> b.tls(cert.tls()))) {
            assertTrue(f.base.startsWith("https://"), f.base);
            f.trust(HttpServerConnection.trusting(cert.pem(), null));
            JsonNode task = run(f, 2, List.of("--trust", cert.pem().toString()));
            // a party that does not trust the certificate is told so at once (no retry loop)
            HttpServerConnection untrusting = HttpServerConnection.builder(f.base, task.get("id").asText(), "d4fl_x").build();
            UncheckedIOException e = assertThrows(UncheckedIOException.class, untrusting::clientId);
            assertTrue(e.getMessage().contains("TLS with " + f.base + " failed"), e.getMessage());
            // and the admin commands take the same --trust
            String out = CliRun.ok("federated", "status", "--server", f.base, "--token", TrainingFixture.ADMIN,
                    "--trust", cert.pem().toString(), task.get("id").asText());
            assertTrue(out.contains("finished"), out);
        }
    }

    /** Creates a secure-aggregation task for the three parties, runs their JVMs to the end, checks the rounds. */
    private JsonNode run(TrainingFixture f, int rounds, List<String> extraArgs) throws Exception {
        FederatedFixture.Task task = FederatedFixture.create(f, TrainingFixture.ADMIN, """
                {"rounds": %d, "clients_per_round": 3, "min_clients": 3, "batch_size": 16, "secure_aggregation": true,
                 "clip_norm": 5.0, "phase_timeout_ms": 60000, "training_timeout_ms": 120000}""".formatted(rounds),
                "[\"north\", \"south\", \"east\"]");
        List<Path> shards = List.of(FederatedFixture.csv(tmp.resolve("north.csv"), 50, 11),
                FederatedFixture.csv(tmp.resolve("south.csv"), 70, 12), FederatedFixture.idx(tmp.resolve("east"), 60, 13));
        List<Party> parties = new ArrayList<>();
        for (int i = 0; i < PARTIES.length; i++) {
            List<String> args = new ArrayList<>(List.of("federated", "join", "--server", f.base, "--token",
                    task.token(PARTIES[i]), "--task", Long.toString(task.id()), "--data", shards.get(i).toString(),
                    "--seed", Integer.toString(i)));
            args.addAll(extraArgs);
            parties.add(Party.start(args));
        }
        for (int i = 0; i < parties.size(); i++) {
            Party p = parties.get(i);
            int code = p.await(240);
            String out = p.output();
            assertEquals(0, code, PARTIES[i] + ":\n" + out);
            assertTrue(out.contains("joined federated task " + task.id() + " as " + PARTIES[i]), out);
            assertTrue(out.contains("finished: all " + rounds + " rounds ran"), out);
            assertTrue(out.contains("masked update sent"), out);
        }
        JsonNode status = FederatedFixture.status(f, TrainingFixture.ADMIN, task.id());
        assertEquals("finished", status.get("state").asText(), status.toString());
        assertEquals(rounds, status.get("history").size());
        StringBuilder figures = new StringBuilder();
        for (JsonNode r : status.get("history")) {
            assertEquals("COMPLETED", r.get("status").asText(), r.toString());
            assertEquals(3, r.get("participants").asInt());
            assertEquals("[3,3,3,3]", r.get("secagg_sets").toString());
            figures.append(String.format(Locale.ROOT, " round %d: %.2f s, %d B up and %d B down per client;",
                    r.get("round").asInt(), r.get("seconds").asDouble(), r.get("bytes_up").asLong() / 3,
                    r.get("bytes_down").asLong() / 3));
        }
        System.out.println("3 client JVMs (" + (f.base.startsWith("https") ? "HTTPS" : "HTTP") + ", secure aggregation):"
                + figures);
        assertEquals(rounds + 1, f.registry.versions(status.get("register_as").asText()).size());
        // the finished task still answers its parties' polls: "finished", with the reason
        HttpServerConnection late = FederatedFixture.connect(f.base, task.id(), task.token("east"));
        if (!extraArgs.isEmpty()) {
            late = HttpServerConnection.builder(f.base, Long.toString(task.id()), task.token("east"))
                    .trust(Path.of(extraArgs.get(1)), null).build();
        }
        Message.ServerMessage m = late.exchange(new Message.Poll(FederatedHttpTest.envelope(Long.toString(task.id()),
                "east", -1, new byte[0])));
        assertTrue(m instanceof Message.Finished, m.toString());
        return status;
    }

    /** A party's JVM: {@code dense4j} with this build's classpath. */
    static final class Party {
        final Process process;
        private final StringBuffer output = new StringBuffer();

        private Party(Process p) {
            this.process = p;
            Thread reader = new Thread(() -> {
                try {
                    byte[] buf = new byte[8192];
                    for (int n; (n = p.getInputStream().read(buf)) > 0; ) {
                        output.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            }, "party-output");
            reader.setDaemon(true);
            reader.start();
        }

        static Party start(List<String> args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
            String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
            if (cache != null) {
                cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
            }
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.dense4j.cli.Main"));
            cmd.addAll(args);
            return new Party(new ProcessBuilder(cmd).redirectErrorStream(true).start());
        }

        int await(int seconds) throws InterruptedException {
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                return -1;
            }
            return process.exitValue();
        }

        String output() {
            return output.toString();
        }
    }
}
