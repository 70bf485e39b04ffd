package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code dense4j federated} commands as an admin and a party use them: create (tokens printed, or written to a
 * file only its owner reads), list, status, cancel, and join's clear refusals before any data is sent.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FederatedCliTest {
    @TempDir
    Path tmp;

    @Test
    void adminCommandsCreateListShowAndCancelTasks() throws Exception {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t)) {
            // a training config: its fit section gives the local epochs, batch size and initialization seed
            Path config = Files.writeString(tmp.resolve("model.json"), "{\"model\": " + FederatedFixture.modelConfig()
                    + ", \"fit\": {\"epochs\": 2, \"batch_size\": 8, \"seed\": 5}}");
            CliRun.Result r = CliRun.run("federated", "create", "--server", f.base, "--token", TrainingFixture.ADMIN,
                    "--model-config", config.toString(), "--rounds", "20", "--clients-per-round", "8", "--min-clients",
                    "6", "--secure-aggregation", "--dp-clip", "1.0", "--dp-noise", "0.8", "--clients", "10",
                    "--name", "cli task");
            assertEquals(0, r.code(), r.out() + r.err());
            List<String> lines = r.out().lines().toList();
            long id = Long.parseLong(lines.get(0));
            assertEquals(11, lines.size(), r.out());
            assertTrue(lines.get(1).matches("client-01 d4fl_[A-Za-z0-9_-]{43}"), lines.get(1));
            assertTrue(r.err().contains("shown only now"), r.err());
            JsonNode status = FederatedFixture.status(f, TrainingFixture.ADMIN, id);
            assertEquals(2, status.at("/config/local_epochs").asInt(), "from the config's fit");
            assertEquals(8, status.at("/config/batch_size").asInt());
            assertEquals(5, status.at("/origin/seed").asInt());
            assertEquals(20, status.get("rounds").asInt());
            assertTrue(status.at("/privacy/secure_aggregation").asBoolean());
            assertEquals(0.8, status.at("/privacy/noise_multiplier").asDouble());
            assertEquals(0.8, status.at("/clients/sampling_rate").asDouble(), 1e-12);

            // tokens into a new file, readable by its owner only; an existing file is never overwritten
            Path tokens = tmp.resolve("tokens.txt");
            String out = CliRun.ok("federated", "create", "--server", f.base, "--token", TrainingFixture.ADMIN,
                    "--model-config", config.toString(), "--clients-per-round", "3", "--client-names",
                    "hospital-a,hospital-b,hospital-c", "--tokens-file", tokens.toString(), "--register-as", "hospitals");
            long second = Long.parseLong(out.strip());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tokens)));
            List<String> written = Files.readAllLines(tokens).stream().filter(l -> !l.startsWith("#")).toList();
            assertEquals(3, written.size());
            assertTrue(written.get(0).startsWith("hospital-a d4fl_"), written.get(0));
            CliRun.Result again = CliRun.run("federated", "create", "--server", f.base, "--token", TrainingFixture.ADMIN,
                    "--model-config", config.toString(), "--tokens-file", tokens.toString());
            assertEquals(1, again.code());
            assertTrue(again.err().contains("exists"), again.err());

            String list = CliRun.ok("federated", "list", "--server", f.base, "--token", TrainingFixture.ADMIN);
            assertTrue(list.contains("cli task") && list.contains("hospitals v1"), list);
            String shown = CliRun.ok("federated", "status", "--server", f.base, "--token", TrainingFixture.ADMIN,
                    Long.toString(second));
            assertTrue(shown.contains("rounds 0 of 10; 3 clients enrolled"), shown);
            assertTrue(shown.contains("global model: hospitals version 1"), shown);
            JsonNode json = FederatedFixture.JSON.readTree(CliRun.ok("federated", "status", "--json", "--server", f.base,
                    "--token", TrainingFixture.ADMIN, Long.toString(second)));
            assertEquals("running", json.get("state").asText());
            String cancelled = CliRun.ok("federated", "cancel", "--server", f.base, "--token", TrainingFixture.ADMIN,
                    Long.toString(second));
            assertTrue(cancelled.contains("task " + second + ": cancelled"), cancelled);
            CliRun.Result twice = CliRun.run("federated", "cancel", "--server", f.base, "--token", TrainingFixture.ADMIN,
                    Long.toString(second));
            assertEquals(4, twice.code(), "a conflict: " + twice.err());
            // the wrong credentials, said in one line
            CliRun.Result wrong = CliRun.run("federated", "list", "--server", f.base, "--token", TrainingFixture.ALICE);
            assertEquals(1, wrong.code());
            assertTrue(wrong.err().startsWith("error: ") && wrong.err().contains("(HTTP 403)"), wrong.err());
            CliRun.Result missing = CliRun.run("federated", "status", "--server", f.base, "--token", TrainingFixture.ADMIN,
                    "999");
            assertEquals(3, missing.code(), missing.err());
        }
    }

    @Test
    void joinRefusesClearlyBeforeSendingAnything() throws Exception {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t)) {
            FederatedFixture.Task a = FederatedFixture.create(f, TrainingFixture.ADMIN, "{\"clients_per_round\": 2}", "2");
            FederatedFixture.Task b = FederatedFixture.create(f, TrainingFixture.ADMIN, "{\"clients_per_round\": 2}", "2");
            Path csv = FederatedFixture.csv(tmp.resolve("mine.csv"), 30, 1);
            CliRun.Result bad = CliRun.run("federated", "join", "--server", f.base, "--token", "d4fl_wrong",
                    "--task", Long.toString(a.id()), "--data", csv.toString());
            assertEquals(1, bad.code());
            assertTrue(bad.err().contains("not a federated client token"), bad.err());
            CliRun.Result otherTask = CliRun.run("federated", "join", "--server", f.base, "--token",
                    a.token("client-01"), "--task", Long.toString(b.id()), "--data", csv.toString());
            assertEquals(1, otherTask.code());
            assertTrue(otherTask.err().contains("is for federated task " + a.id() + ", not task " + b.id()),
                    otherTask.err());
            Path narrow = tmp.resolve("narrow.csv");
            Files.writeString(narrow, "x,y,label\n1,2,0\n3,4,1\n");
            CliRun.Result width = CliRun.run("federated", "join", "--server", f.base, "--token", a.token("client-01"),
                    "--task", Long.toString(a.id()), "--data", narrow.toString());
            assertEquals(1, width.code());
            assertTrue(width.err().contains("model takes 16 features; " + narrow + " has 2"), width.err());
            CliRun.Result noToken = CliRun.run("federated", "join", "--server", f.base, "--task", "1", "--data",
                    csv.toString());
            assertTrue(noToken.code() != 0 && noToken.err().contains("client token"), noToken.err());
        }
    }
}
