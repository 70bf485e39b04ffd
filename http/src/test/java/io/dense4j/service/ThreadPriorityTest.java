package io.dense4j.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.data.Dataset;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.service.job.DatasetResolver;
import io.dense4j.service.job.JobCancelledException;
import io.dense4j.service.job.JobContext;
import io.dense4j.service.job.JobEvent;
import io.dense4j.service.job.JobSpec;
import io.dense4j.tensor.Tensor;
import io.dense4j.tune.Json;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongToIntFunction;
import io.dense4j.Dense4J;
import io.dense4j.KernelThreads;
import io.dense4j.ThreadTeam;
import io.dense4j.backend.cpu.KernelThread;
import io.dense4j.service.job.JobRunner;
import java.io.IOException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Training threads run at a lower CPU priority than the rest of the server; threads they start inherit it. */
class ThreadPriorityTest {
    @Test
    void onlyTheCallingThreadAndItsChildrenAreLowered() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/proc/thread-self")), "not Linux: thread priorities are left alone");
        int mine = ThreadPriority.niceOf(ThreadPriority.currentTid());
        Assumptions.assumeTrue(mine < 7, "this test runs at nice " + mine + " already");
        int[] r = lowerOnAJobThread(7, ThreadPriority::niceOf);
        Assumptions.assumeTrue(r[0] >= 0 && r[0] != mine || r[0] == 7, "renice is not available here");
        assertEquals(7, r[0]);
        assertEquals(7, r[1], "read back from /proc");
        assertEquals(7, r[2], "a thread the job starts (a trial worker) inherits it");
        assertEquals(mine, ThreadPriority.niceOf(ThreadPriority.currentTid()), "other threads keep theirs");
    }

    @Test
    void idleMeansSchedIdleForTheThreadAndWhatItStarts() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/proc/thread-self")), "not Linux: thread priorities are left alone");
        int mine = ThreadPriority.policyOf(ThreadPriority.currentTid());
        int[] r = lowerOnAJobThread(ThreadPriority.IDLE, ThreadPriority::policyOf);
        Assumptions.assumeTrue(r[0] == ThreadPriority.IDLE, "chrt --idle is not available here (got " + r[0] + ")");
        assertEquals(5, r[1], "SCHED_IDLE read back from /proc");
        assertEquals(5, r[2], "a thread the job starts (a kernel team worker) inherits it");
        assertEquals(19, r[3], "and the lowest nice value, should the policy be reset");
        assertEquals(mine, ThreadPriority.policyOf(ThreadPriority.currentTid()), "other threads keep theirs");
    }

    @Test
    void aJobsKernelsRunUnderSchedIdleWhileTheJobThreadKeepsItsPriority() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/proc/thread-self")), "not Linux: thread priorities are left alone");
        long me = ThreadPriority.currentTid();
        int policy = ThreadPriority.policyOf(me);
        int nice = ThreadPriority.niceOf(me);
        Assumptions.assumeTrue(policy != 5, "this test runs under SCHED_IDLE already");
        long idleBefore = idleTasks();
        try (KernelThreads scope = Dense4J.kernelThreads(JobRunner.kernelThreadFactory(ThreadPriority.IDLE, "job-t-kernels"));
             ThreadTeam team = Dense4J.threadTeam(2)) {
            int kernelPolicy = KernelThread.call(() -> ThreadPriority.policyOf(ThreadPriority.currentTid()));
            Assumptions.assumeTrue(kernelPolicy == 5, "chrt --idle is not available here (policy " + kernelPolicy + ")");
            assertEquals(policy, ThreadPriority.policyOf(me), "the job thread keeps its policy");
            assertEquals(nice, ThreadPriority.niceOf(me), "and its nice value");
            assertEquals(idleBefore + 2, idleTasks(), "the kernel thread and the team's worker run under SCHED_IDLE");
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (idleTasks() != idleBefore && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(idleBefore, idleTasks(), "closing the team ends both");
    }

    /**
     * A job's data set is looked up on the job thread (the state store), read on a SCHED_IDLE thread, and the
     * reader's native allocations (whose process-wide lock request threads take too) run back on the job thread.
     */
    @Test
    void aJobReadsItsDataUnderSchedIdleWhileItsJobThreadLooksItUpAndAllocates(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/proc/thread-self")), "not Linux: thread priorities are left alone");
        int[] seen = {-1, -1, -1, -1}; // policies: job thread, lookup, reader, allocations
        DatasetResolver resolver = sha -> {
            seen[1] = ThreadPriority.policyOf(ThreadPriority.currentTid());
            return allocation -> {
                seen[2] = ThreadPriority.policyOf(ThreadPriority.currentTid());
                try (Dataset rows = TestData.blobs(60, 4, 3, 1.0, 3)) {
                    Tensor x = allocation.allocate(() -> {
                        seen[3] = ThreadPriority.policyOf(ThreadPriority.currentTid());
                        return Tensor.of(rows.features().toFloatArray(), 60, 4);
                    });
                    Tensor y = allocation.allocate(() -> Tensor.ofInts(rows.labels().toIntArray(), 60));
                    return new DatasetResolver.Loaded(Dataset.of(x, y, 3, List.of()), null);
                }
            };
        };
        ModelRegistry registry = ModelRegistry.open(dir.resolve("registry"));
        JobRunner runner = new JobRunner(registry, resolver, registry::setAlias, Duration.ZERO, ThreadPriority.IDLE);
        JobSpec spec = JobSpec.parse(Json.parse("{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + "a".repeat(64)
                + "\"}, \"config\": " + JobServiceTest.config("{\"type\": \"sgd\", \"learning_rate\": 0.1}", 1) + "}"));
        JobContext ctx = new JobContext() {
            public long jobId() {
                return 1;
            }

            public String owner() {
                return "u";
            }

            public Path workDir() {
                return dir;
            }

            public boolean cancelRequested() {
                return true; // stops once the data is loaded and training begins
            }

            public void event(JobEvent event) {
            }

            public Optional<ObjectNode> lastCheckpoint() {
                return Optional.empty();
            }

            public void checkpointed(ObjectNode checkpoint) {
            }
        };
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        Thread job = new Thread(() -> {
            seen[0] = ThreadPriority.policyOf(ThreadPriority.currentTid());
            try {
                runner.run(spec, ctx);
                ended.complete(null);
            } catch (Throwable t) {
                ended.complete(t);
            }
        }, "job-1");
        job.start();
        Throwable t = ended.get(60, TimeUnit.SECONDS);
        assertTrue(t instanceof JobCancelledException, "the job ran to its first cancellation check: " + t);
        Assumptions.assumeTrue(seen[0] != 5, "this test runs under SCHED_IDLE already");
        Assumptions.assumeTrue(seen[2] == 5, "chrt --idle is not available here (policy " + seen[2] + ")");
        assertEquals(seen[0], seen[1], "the lookup runs on the job thread, at its priority");
        assertEquals(seen[0], seen[3], "the reader's allocations run back on the job thread");
    }

    /** Threads of this process under SCHED_IDLE. */
    private static long idleTasks() throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.filter(t -> ThreadPriority.policyOf(Long.parseLong(t.getFileName().toString())) == 5).count();
        }
    }

    /**
     * On a new "job" thread: lowerCurrentThread(level), then {what it returned, probe(job thread), probe(a thread the
     * job thread starts), the job thread's nice value}.
     */
    private static int[] lowerOnAJobThread(int level, LongToIntFunction probe) throws Exception {
        CompletableFuture<int[]> seen = new CompletableFuture<>();
        Thread job = new Thread(() -> {
            int after = ThreadPriority.lowerCurrentThread(level);
            int[] child = new int[1];
            Thread worker = new Thread(() -> child[0] = probe.applyAsInt(ThreadPriority.currentTid()));
            worker.start();
            try {
                worker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            long tid = ThreadPriority.currentTid();
            seen.complete(new int[] {after, probe.applyAsInt(tid), child[0], ThreadPriority.niceOf(tid)});
        });
        job.start();
        return seen.get(30, TimeUnit.SECONDS);
    }
}
