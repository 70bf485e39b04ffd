package io.dense4j.service.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SchedulerTest {
    private long seq;

    private JobRequest job(long id, String owner, int priority, int cpus, int gpus) {
        return new JobRequest(id, owner, priority, seq++, cpus, gpus);
    }

    private static List<Long> ids(List<Allocation> as) {
        return as.stream().map(Allocation::jobId).toList();
    }

    @Test
    void impossibleJobsAreRefusedAtSubmissionWithTheReason() {
        Scheduler s = new Scheduler(Capacity.of(4, List.of(0, 1), 1), 10);
        var e = assertThrows(ImpossibleRequestException.class, () -> s.submit(job(1, "a", 0, 4, 0)));
        assertEquals("the job asks for 4 CPU threads but this server gives jobs at most 3 (4 cpus, 1 reserved for inference)",
                e.getMessage());
        e = assertThrows(ImpossibleRequestException.class, () -> s.submit(job(2, "a", 0, 1, 3)));
        assertEquals("the job asks for 3 GPUs but this server has 2 [0, 1]", e.getMessage());
        Scheduler cpuOnly = new Scheduler(Capacity.of(2, List.of(), 0), 10);
        e = assertThrows(ImpossibleRequestException.class, () -> cpuOnly.submit(job(3, "a", 0, 1, 1)));
        assertEquals("the job asks for 1 GPU but this server has none", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> job(4, "a", 0, 0, 0));
        assertTrue(s.queued().isEmpty());
    }

    @Test
    void reserveParsesCountsAndShares() {
        assertEquals(1, Capacity.parseReserve("1", 8));
        assertEquals(2, Capacity.parseReserve("25%", 8));
        assertEquals(1, Capacity.parseReserve("10%", 8)); // rounded up: a share keeps at least one thread
        assertEquals(0, Capacity.parseReserve("0%", 8));
        assertThrows(IllegalArgumentException.class, () -> Capacity.parseReserve("lots", 8));
        assertThrows(IllegalArgumentException.class, () -> Capacity.of(2, List.of(), 2));
        assertThrows(IllegalArgumentException.class, () -> Capacity.of(2, List.of(0, 0), 0));
    }

    @Test
    void priorityThenSubmissionOrderAndGpuIds() {
        Scheduler s = new Scheduler(Capacity.of(4, List.of(3, 5), 0), 10);
        s.submit(job(1, "a", 0, 2, 1));
        s.submit(job(2, "b", 5, 2, 1));
        s.submit(job(3, "c", 5, 2, 0));
        List<Allocation> started = s.schedule();
        assertEquals(List.of(2L, 3L), ids(started)); // priority 5 first, in submission order
        assertEquals(List.of(3), started.get(0).gpus());
        assertEquals(Optional.of(1L), s.head());
        assertTrue(s.release(3));
        Allocation a = s.schedule().get(0);
        assertEquals(1, a.jobId());
        assertEquals(List.of(5), a.gpus());
    }

    @Test
    void aLargeJobIsNotStarvedBySmallOnes() {
        Scheduler s = new Scheduler(Capacity.of(4, List.of(), 0), 10);
        s.submit(job(1, "a", 0, 3, 0));
        assertEquals(List.of(1L), ids(s.schedule()));
        s.submit(job(2, "b", 0, 4, 0)); // needs everything: waits, and holds the one free thread
        s.submit(job(3, "c", 0, 1, 0));
        assertEquals(List.of(), ids(s.schedule()), "the small job may not take the big one's earmarked thread");
        assertEquals(Optional.of(2L), s.head());
        s.release(1);
        assertEquals(List.of(2L), ids(s.schedule()));
        s.release(2);
        assertEquals(List.of(3L), ids(s.schedule()));
    }

    /**
     * An owner whose job is running cannot hold the reservation for its next one: a token running a job on most
     * CPUs that queued another as big (at top priority) kept every CPU that freed up, and no other token's job started.
     */
    @Test
    void anOwnerWithAJobRunningDoesNotHoldTheReservation() {
        Scheduler s = new Scheduler(Capacity.of(4, List.of(), 0), 10);
        s.submit(job(1, "a", 1000, 3, 0));
        assertEquals(List.of(1L), ids(s.schedule()));
        s.submit(job(2, "a", 1000, 4, 0));
        s.submit(job(3, "c", 0, 1, 0));
        assertEquals(List.of(3L), ids(s.schedule()), "c's job takes the free thread");
        assertEquals(Optional.empty(), s.head());
        s.release(1);
        s.release(3);
        assertEquals(List.of(2L), ids(s.schedule()), "a's big job starts once its own has ended and room is free");
    }

    @Test
    void smallJobsUseWhatTheHeadCannot() {
        // the head waits for a GPU; two of the four free threads are earmarked for it, the other two serve job 3
        Scheduler s = new Scheduler(Capacity.of(5, List.of(0), 0), 10);
        s.submit(job(1, "a", 0, 1, 1));
        s.schedule();
        s.submit(job(2, "b", 0, 2, 1));
        s.submit(job(3, "c", 0, 2, 0));
        s.submit(job(4, "d", 0, 1, 0));
        assertEquals(List.of(3L), ids(s.schedule()));
        assertEquals(Optional.of(2L), s.head());
        s.release(1);
        assertEquals(List.of(2L, 4L), ids(s.schedule()));
    }

    @Test
    void perOwnerLimitHoldsAJobBackWithoutBlockingOthers() {
        Scheduler s = new Scheduler(Capacity.of(8, List.of(), 0), 2);
        for (int i = 1; i <= 3; i++) {
            s.submit(job(i, "greedy", 0, 1, 0));
        }
        s.submit(job(4, "other", 0, 1, 0));
        assertEquals(List.of(1L, 2L, 4L), ids(s.schedule()));
        s.release(2);
        assertEquals(List.of(3L), ids(s.schedule()));
    }

    @Test
    void cancellationFreesResources() {
        Scheduler s = new Scheduler(Capacity.of(2, List.of(0), 0), 10);
        s.submit(job(1, "a", 0, 2, 1));
        s.submit(job(2, "b", 0, 2, 1));
        s.submit(job(3, "c", 0, 1, 0));
        assertEquals(List.of(1L), ids(s.schedule()));
        assertTrue(s.cancel(3));
        assertTrue(s.cancel(1));
        assertFalse(s.cancel(1));
        assertEquals(List.of(2L), ids(s.schedule()));
        assertEquals(List.of(0), s.running().get(0).gpus());
    }

    /**
     * Random submissions, completions and cancellations on random capacities, checking after every step: threads
     * within cpus - reserve, GPUs disjoint and declared, the per-owner limit, and that a second pass starts nothing
     * more (every job that may start has started).
     */
    @Test
    void invariantsHoldUnderRandomWorkloads() {
        for (int seed = 0; seed < 300; seed++) {
            SplittableRandom rng = new SplittableRandom(seed);
            int cpus = 1 + rng.nextInt(16);
            List<Integer> gpuIds = new ArrayList<>();
            for (int g = 0, n = rng.nextInt(4); g < n; g++) {
                gpuIds.add(g * 2 + rng.nextInt(2));
            }
            Capacity cap = Capacity.of(cpus, gpuIds, rng.nextInt(cpus));
            int limit = 1 + rng.nextInt(4);
            Scheduler s = new Scheduler(cap, limit);
            long id = 0;
            for (int step = 0; step < 400; step++) {
                int op = rng.nextInt(10);
                if (op < 5) {
                    int c = 1 + rng.nextInt(cap.cpus() + 1);
                    int g = rng.nextInt(gpuIds.size() + 2);
                    JobRequest j = new JobRequest(++id, "o" + rng.nextInt(4), rng.nextInt(3), id, c, g);
                    boolean fits = c <= cap.schedulableCpus() && g <= gpuIds.size();
                    if (fits) {
                        s.submit(j);
                    } else {
                        assertThrows(ImpossibleRequestException.class, () -> s.submit(j));
                    }
                } else if (op < 8) {
                    List<Allocation> r = s.running();
                    if (!r.isEmpty()) {
                        assertTrue(s.release(r.get(rng.nextInt(r.size())).jobId()));
                    }
                } else {
                    List<Long> all = new ArrayList<>();
                    s.queued().forEach(q -> all.add(q.id()));
                    s.running().forEach(a -> all.add(a.jobId()));
                    if (!all.isEmpty()) {
                        assertTrue(s.cancel(all.get(rng.nextInt(all.size()))));
                    }
                }
                s.schedule();
                checkInvariants(s, cap, limit, "seed " + seed + " step " + step);
                assertTrue(s.schedule().isEmpty(), "a second pass started more: seed " + seed);
            }
        }
    }

    private static void checkInvariants(Scheduler s, Capacity cap, int limit, String where) {
        int threads = 0;
        Set<Integer> gpus = new HashSet<>();
        Map<String, Integer> owners = new HashMap<>();
        for (Allocation a : s.running()) {
            threads += a.cpus();
            for (int g : a.gpus()) {
                assertTrue(cap.gpus().contains(g), where + ": undeclared GPU " + g);
                assertTrue(gpus.add(g), where + ": GPU " + g + " given twice");
            }
            owners.merge(a.owner(), 1, Integer::sum);
        }
        assertTrue(threads <= cap.schedulableCpus(), where + ": " + threads + " threads > " + cap.schedulableCpus());
        owners.values().forEach(n -> assertTrue(n <= limit, where + ": owner over its limit"));
    }

    /**
     * No starvation: with equal priorities and no owner limit, a job that becomes the head starts at the latest
     * when every job that was running at that moment has finished, however many small jobs keep arriving.
     */
    @Test
    void theHeadStartsOnceTheJobsRunningWhenItWasBlockedHaveFinished() {
        for (int seed = 0; seed < 300; seed++) {
            SplittableRandom rng = new SplittableRandom(1000 + seed);
            int cpus = 2 + rng.nextInt(10);
            List<Integer> gpuIds = rng.nextBoolean() ? List.of(0, 1) : List.of();
            Capacity cap = Capacity.of(cpus, gpuIds, 0);
            Scheduler s = new Scheduler(cap, Integer.MAX_VALUE);
            long id = 0;
            Long watched = null;
            Set<Long> blockers = new HashSet<>();
            for (int step = 0; step < 500; step++) {
                if (rng.nextInt(3) > 0) {
                    // mostly small jobs, sometimes one that needs (nearly) everything
                    int c = rng.nextInt(6) == 0 ? cap.schedulableCpus() : 1 + rng.nextInt(2);
                    int g = gpuIds.isEmpty() ? 0 : rng.nextInt(6) == 0 ? 2 : rng.nextInt(2);
                    s.submit(new JobRequest(++id, "u", 0, id, Math.min(c, cap.schedulableCpus()), g));
                } else if (!s.running().isEmpty()) {
                    long done = s.running().get(rng.nextInt(s.running().size())).jobId();
                    s.release(done);
                    blockers.remove(done);
                }
                List<Long> started = ids(s.schedule());
                if (watched != null && started.contains(watched)) {
                    watched = null;
                }
                if (watched != null) {
                    assertFalse(blockers.isEmpty(), "seed " + seed + ": job " + watched
                            + " still waits after every job running when it became head finished");
                }
                Optional<Long> head = s.head();
                if (watched == null && head.isPresent()) {
                    watched = head.get();
                    blockers.clear();
                    s.running().forEach(a -> blockers.add(a.jobId()));
                }
            }
        }
    }
}
