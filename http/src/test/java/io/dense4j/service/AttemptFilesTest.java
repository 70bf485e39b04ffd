package io.dense4j.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.data.Dataset;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.service.job.DatasetResolver;
import io.dense4j.service.job.JobCancelledException;
import io.dense4j.service.job.JobContext;
import io.dense4j.service.job.JobEvent;
import io.dense4j.service.job.JobRunner;
import io.dense4j.service.job.JobSpec;
import io.dense4j.tensor.Tensor;
import io.dense4j.tune.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.IntPredicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two attempts of one job share its work directory: the first may still be saving after its lease was lost while
 * the second, on another server, resumes from the first's checkpoint. Nothing the second writes may carry a name the
 * first writes, and the reverse: each attempt's record must point at a file holding what it counts.
 */
class AttemptFilesTest {
    @TempDir
    Path dir;

    /** A context for one attempt of job 1, stopping once {@code stopAfter} accepts the checkpoints recorded. */
    final class Attempt implements JobContext {
        final int number;
        final Optional<ObjectNode> resumeFrom;
        final IntPredicate stopAfter;
        final List<ObjectNode> recorded = new ArrayList<>();
        Map<String, byte[]> filesAtFirstRecord = Map.of();

        Attempt(int number, Optional<ObjectNode> resumeFrom, IntPredicate stopAfter) {
            this.number = number;
            this.resumeFrom = resumeFrom;
            this.stopAfter = stopAfter;
        }

        public long jobId() {
            return 1;
        }

        public String owner() {
            return JobRunner.ADMIN_OWNER; // an admin's job keeps its model in the work directory
        }

        public Path workDir() {
            return dir.resolve("job-1");
        }

        public int attempt() {
            return number;
        }

        public synchronized boolean cancelRequested() {
            return stopAfter.test(recorded.size());
        }

        public void event(JobEvent event) {
        }

        public Optional<ObjectNode> lastCheckpoint() {
            return resumeFrom;
        }

        public synchronized void checkpointed(ObjectNode checkpoint) {
            if (recorded.isEmpty()) {
                try {
                    filesAtFirstRecord = files(workDir());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
            recorded.add(checkpoint.deepCopy());
        }
    }

    static Map<String, byte[]> files(Path d) throws Exception {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> s = Files.list(d)) {
            for (Path f : s.toList()) {
                out.put(f.getFileName().toString(), Files.readAllBytes(f));
            }
        }
        return out;
    }

    @Test
    void aSecondAttemptWritesNoFileTheFirstWroteAndLeavesTheFirstsUntouched() throws Exception {
        DatasetResolver resolver = sha -> allocation -> {
            try (Dataset rows = TestData.blobs(120, 4, 3, 1.0, 3)) {
                Tensor x = allocation.allocate(() -> Tensor.of(rows.features().toFloatArray(), 120, 4));
                Tensor y = allocation.allocate(() -> Tensor.ofInts(rows.labels().toIntArray(), 120));
                return new DatasetResolver.Loaded(Dataset.of(x, y, 3, List.of()), null);
            }
        };
        ModelRegistry registry = ModelRegistry.open(dir.resolve("registry"));
        JobRunner runner = new JobRunner(registry, resolver, registry::setAlias, Duration.ZERO, 0);
        JobSpec spec = JobSpec.parse(Json.parse("{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + "a".repeat(64)
                + "\"}, \"config\": " + JobServiceTest.config("{\"type\": \"adam\", \"learning_rate\": 0.01}", 5)
                + JobServiceTest.EVERY_EPOCH + "}"));

        // attempt 1 checkpoints after epochs 1 and 2, then its lease is gone
        Attempt first = new Attempt(1, Optional.empty(), n -> n >= 2);
        assertThrows(JobCancelledException.class, () -> runner.run(spec, first));
        assertEquals(2, first.recorded.size());
        Map<String, byte[]> firstFiles = files(first.workDir());
        assertEquals(List.of("checkpoint-1-a.d4j", "checkpoint-1-b.d4j"), List.copyOf(firstFiles.keySet()));

        // attempt 2 resumes from attempt 1's last record and runs to the end
        ObjectNode last = first.recorded.get(1);
        assertEquals(2, last.get("epochs").asInt());
        Attempt second = new Attempt(2, Optional.of(last), n -> false);
        ObjectNode result = runner.run(spec, second);
        assertEquals(3, second.recorded.size(), "epochs 3, 4 and 5: " + second.recorded);
        for (ObjectNode ck : second.recorded) {
            String name = Path.of(ck.get("path").asText()).getFileName().toString();
            assertTrue(name.startsWith("checkpoint-2-"), "attempt 2 saved to " + name);
        }
        // until its first checkpoint is recorded (its resume point until then is attempt 1's), attempt 2 touched
        // none of attempt 1's files; once it is, they are removed: nothing points at them any more
        for (Map.Entry<String, byte[]> f : firstFiles.entrySet()) {
            assertArrayEquals(f.getValue(), second.filesAtFirstRecord.get(f.getKey()), f.getKey() + " was rewritten by attempt 2");
        }
        Map<String, byte[]> after = files(first.workDir());
        assertTrue(after.keySet().stream().noneMatch(firstFiles::containsKey), "attempt 1's files are gone: " + after.keySet());
        // the job's model is attempt 2's own file, which no other attempt writes
        assertEquals(first.workDir().resolve("model-2.d4j").toString(), result.get("model_file").asText());
        assertTrue(after.containsKey("model-2.d4j"));
    }
}
