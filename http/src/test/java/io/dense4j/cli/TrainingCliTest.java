package io.dense4j.cli;

import io.dense4j.http.TrainingClient;
import io.dense4j.http.TrainingData;
import io.dense4j.http.TrainingFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client commands as a user types them, against a real server: upload a directory and a CSV, submit a job,
 * watch it to the end, list, get, logs, cancel; errors are one line with a non-zero exit code.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 180, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TrainingCliTest {
    @TempDir
    static Path tmp;
    TrainingFixture f;

    @BeforeAll
    void start() {
        f = new TrainingFixture(tmp.resolve("server"), t -> t);
    }

    @AfterAll
    void stop() {
        f.close();
    }

    /** Runs the command line with stdout and stderr captured; asserts the exit code. */
    private String[] run(int expected, String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run(args);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        String[] both = {o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
        assertEquals(expected, code, "stdout: " + both[0] + "\nstderr: " + both[1]);
        return both;
    }

    private String[] client(int expected, String... args) {
        String[] all = new String[args.length + 4];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--server";
        all[args.length + 1] = f.base;
        all[args.length + 2] = "--token";
        all[args.length + 3] = TrainingFixture.ALICE;
        return run(expected, all);
    }

    @Test
    void uploadSubmitWatchAndInspectFromTheCommandLine() throws Exception {
        Path idx = TrainingData.idxDirectory(tmp.resolve("fashion"), 150, 60, 3, 2);
        String sha = client(0, "datasets", "upload", idx.toString(), "--name", "fashion-tiny")[0].strip();
        assertEquals(TrainingData.manifestSha256(idx), sha);
        String list = client(0, "datasets", "list")[0];
        assertTrue(list.contains(sha.substring(0, 12)) && list.contains("fashion-tiny") && list.contains("150+60"), list);
        assertTrue(client(0, "datasets", "describe", sha)[0].contains("\"T-shirt/top\""), "Fashion-MNIST's class names");
        // the 12 digits `datasets list` shows name it too; too few, or none of the caller's, are said
        assertTrue(client(0, "datasets", "describe", sha.substring(0, 12))[0].contains("\"T-shirt/top\""));
        assertTrue(client(1, "datasets", "describe", sha.substring(0, 5))[1].contains("first 8 or more"));
        assertTrue(client(1, "datasets", "describe", "00000000")[1].contains("no data set of yours starts with"));

        Path csv = TrainingData.csv(tmp.resolve("iris.csv"), 90, 4, 9);
        String csvSha = client(0, "datasets", "upload", csv.toString(), "--ignore-columns", "id",
                "--label-column", "species")[0].strip();
        assertEquals(TrainingData.sha256(Files.readAllBytes(csv)), csvSha);

        Path job = Files.writeString(tmp.resolve("job.json"), TrainingClient.trainSpec(sha,
                "{\"type\": \"adam\", \"learning_rate\": 0.01}", 3, ", \"register_as\": \"fashion\", \"promote\": \"if_better\"")
                .replace("\"units\": 3", "\"units\": 10"));
        String id = client(0, "jobs", "submit", job.toString())[0].strip();
        assertTrue(id.matches("[0-9]+"), "prints the job id: " + id);
        String watched = client(0, "jobs", "watch", id)[0];
        assertTrue(watched.contains("epoch 1/3") && watched.contains("epoch 3/3") && watched.contains("ETA"), watched);
        assertTrue(watched.contains("job " + id + " succeeded: fashion v1"), watched);
        assertTrue(client(0, "jobs", "list")[0].contains("succeeded"));
        assertTrue(client(0, "jobs", "get", id)[0].contains("\"registered\""));
        String logs = client(0, "jobs", "logs", id)[0];
        assertTrue(logs.contains("promotion"));
        // watched again later, the replayed events keep the times they were written at (the log's, in local time)
        Thread.sleep(1100);
        String epoch2 = logs.lines().filter(l -> l.contains("epoch 2/3") && !l.contains("step")).findFirst().orElseThrow();
        String written = java.time.Instant.parse(epoch2.substring(0, epoch2.indexOf(' '))).atZone(java.time.ZoneId.systemDefault())
                .format(java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss"));
        String replayed = client(0, "jobs", "watch", id)[0].lines().filter(l -> l.contains("epoch 2/3") && !l.contains("step")).findFirst().orElseThrow();
        assertTrue(replayed.startsWith(written + "  "), replayed + " vs the log's " + epoch2);
        assertFalse(replayed.contains("\"at\""), replayed);
        assertTrue(client(4, "jobs", "cancel", id)[1].contains("error: job " + id + " already succeeded (HTTP 409)"));

        long longJob = f.submit(TrainingClient.trainSpec(csvSha, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 100_000, ""),
                TrainingFixture.ALICE);
        // a page at a time: the newest job, then the token the list printed for the next page
        String first = client(0, "jobs", "list", "--limit", "1")[0];
        assertTrue(first.contains("\n" + longJob + " ") && first.contains("more: --page-token "), first);
        String token = first.substring(first.indexOf("more: --page-token ") + "more: --page-token ".length()).strip();
        String next = client(0, "jobs", "list", "--limit", "1", "--page-token", token)[0];
        assertTrue(next.contains("\n" + id + " ") && !next.contains("\n" + longJob + " "), next);
        assertTrue(client(1, "jobs", "list", "--page-token", "forged")[1].contains("page_token"));
        String cancelled = client(0, "jobs", "cancel", Long.toString(longJob))[0];
        assertTrue(cancelled.contains("cancel"), cancelled);
        assertEquals("cancelled", f.awaitEnd(longJob, TrainingFixture.ALICE, 60).get("state").asText());
        assertTrue(client(1, "jobs", "watch", Long.toString(longJob))[0].contains("cancelled"));
    }

    @Test
    void errorsAreOneLineWithAnExitCode() throws Exception {
        String[] notFound = client(3, "jobs", "get", "999999");
        assertEquals("error: no job 999999 (HTTP 404)\n", notFound[1]);
        Path bad = Files.writeString(tmp.resolve("bad.json"), "{\"type\": \"train\"}");
        assertTrue(client(1, "jobs", "submit", bad.toString())[1].startsWith("error: /dataset: is required"));
        String[] anonymous = run(1, "jobs", "list", "--server", f.base, "--token", "wrong");
        assertTrue(anonymous[1].contains("(HTTP 403)"), anonymous[1]);
        String[] down = run(1, "jobs", "list", "--server", "http://127.0.0.1:1", "--token", "x");
        assertTrue(down[1].startsWith("error: cannot reach http://127.0.0.1:1"), down[1]);
        assertEquals(1, down[1].strip().split("\n").length, "one line: " + down[1]);
        assertTrue(client(1, "datasets", "upload", tmp.resolve("nothing-here").toString())[1].startsWith("error: no such file"));
    }
}
