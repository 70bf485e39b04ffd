package io.dense4j.service.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.service.job.JobState;
import io.dense4j.tune.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a page of {@code GET /v1/jobs} costs the server with a history of finished tune jobs: the list as it was
 * (every column of each job read, its spec and its whole result parsed) against the summary columns (schema v4).
 * Not a test: run it with
 * <pre>
 * mvn -B -q -pl http -am install -DskipTests
 * mvn -B -q -pl http exec:java -Dexec.classpathScope=test -Dexec.mainClass=io.dense4j.service.store.JobListBench \
 *     -Dexec.args="2000 500 15"
 * </pre>
 * (jobs in the store, page size, interleaved rounds); it prints the median milliseconds per page of each.
 */
public final class JobListBench {
    public static void main(String[] args) throws Exception {
        int jobs = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        int page = args.length > 1 ? Integer.parseInt(args[1]) : 500;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 15;
        Path dir = Files.createTempDirectory("joblist");
        JobStore store = new JobStore(Database.sqlite(dir.resolve("state.db")));
        String sha = "a".repeat(64);
        store.putDataset(new Records.Dataset(sha, "d", "csv", 1000, 8, 3, List.of("a", "b", "c"), "-", 1, 0, io.dense4j.service.job.JobRunner.ADMIN_OWNER));
        String spec = spec();
        String result = tuneResult(16, 3, 5);
        for (int i = 0; i < jobs; i++) {
            long id = store.insertJob(new Records.NewJob("tune", "alice", 0, 2, 0, sha, spec)).id();
            Records.Claim c = store.claim(id, "s", java.time.Duration.ofMinutes(5)).orElseThrow();
            store.finish(c, JobState.SUCCEEDED, result, null);
        }
        System.out.printf("%d finished tune jobs, result %d bytes, spec %d bytes; page of %d%n", jobs,
                result.length(), spec.length(), page);
        double[] before = new double[rounds];
        double[] after = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            before[r] = time(() -> listAsBefore(store.database(), page));
            after[r] = time(() -> listFromSummaries(store, page));
        }
        Arrays.sort(before);
        Arrays.sort(after);
        System.out.printf("per page: every column and JSON parsed (before) %.1f ms, summary columns (after) %.1f ms "
                + "(medians of %d interleaved rounds)%n", before[rounds / 2], after[rounds / 2], rounds);
    }

    private static double time(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return (System.nanoTime() - t0) / 1e6;
    }

    /** The list as it was: every column of each job, its spec and whole result parsed (JobHandlers.view). */
    private static void listAsBefore(Database db, int limit) {
        db.transaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT id, type, state, owner, priority, cpus, gpus, "
                    + "dataset_sha256, spec, submitted_at, started_at, finished_at, server, attempt, lease_expires_at, "
                    + "cancel_requested, progress, checkpoint, result, error FROM jobs ORDER BY id DESC LIMIT ?")) {
                ps.setInt(1, limit);
                List<Object> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        JsonNode s = Json.parse(rs.getString("spec"));
                        JsonNode res = Json.parse(rs.getString("result"));
                        out.add(List.of(s.path("name").asText(""), JobSummaries.ofResult(res)));
                    }
                }
                return out;
            }
        });
    }

    private static void listFromSummaries(JobStore store, int limit) {
        List<Object> out = new ArrayList<>();
        for (Records.JobSummary j : store.jobSummaries(null, null, null, limit)) {
            out.add(Json.parse(j.resultSummary()));
        }
    }

    private static String spec() {
        ObjectNode s = Json.MAPPER.createObjectNode();
        s.put("type", "tune");
        s.put("name", "nightly");
        s.putObject("config").putObject("fit").put("epochs", 5);
        return s.toString();
    }

    /** A tune job's result: every trial with its config and each rung's per-epoch history. */
    private static String tuneResult(int trials, int rungs, int epochs) {
        ObjectNode r = Json.MAPPER.createObjectNode();
        r.put("type", "tune");
        r.putObject("metrics").put("loss", 0.41).put("accuracy", 0.86);
        r.putObject("registered").put("model", "fashion").put("version", 3);
        r.put("best_trial", 7);
        ArrayNode ts = r.putObject("tune").putArray("trials");
        for (int t = 0; t < trials; t++) {
            ObjectNode o = ts.addObject();
            o.put("id", t);
            o.putObject("params").put("/model/compile_config/optimizer/learning_rate", 0.001 * (t + 1));
            ArrayNode rs = o.putArray("rungs");
            for (int k = 0; k < rungs; k++) {
                ObjectNode h = rs.addObject().put("rung", k).put("score", 0.8).putArray("history").addObject();
                for (String m : List.of("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")) {
                    ArrayNode a = h.putArray(m);
                    for (int e = 0; e < epochs; e++) {
                        a.add(0.123456789 * (e + 1) / (t + 1));
                    }
                }
            }
            o.set("config", Json.parse("{\"model\": {\"class_name\": \"Sequential\", \"config_version\": 2, \"layers\": "
                    + "[{\"type\": \"dense\", \"units\": 128, \"activation\": \"relu\"}, {\"type\": \"dense\", \"units\": 10, "
                    + "\"activation\": \"softmax\"}], \"compile_config\": {\"optimizer\": {\"type\": \"adam\", "
                    + "\"learning_rate\": 0.001}, \"loss\": \"sparse_categorical_crossentropy\", \"metrics\": "
                    + "[\"accuracy\"]}}, \"fit\": {\"epochs\": 5, \"batch_size\": 32, \"seed\": 1}}"));
        }
        ArrayNode ep = r.putArray("epochs");
        for (int e = 0; e < epochs; e++) {
            ep.addObject().put("epoch", e + 1).put("loss", 0.5).put("accuracy", 0.8);
        }
        return r.toString();
    }
}
