package io.dense4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.backend.cpu.CpuThreads;
import io.dense4j.backend.cpu.KernelThread;
import io.dense4j.data.Dataset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Teams whose kernels run on kernel threads of a factory (Dense4J.kernelThreads), while the opener waits. */
class KernelThreadsTest {
    /** A factory that records the threads it makes. */
    private static final class Recording implements ThreadFactory {
        final List<Thread> made = new ArrayList<>();

        @Override
        public synchronized Thread newThread(Runnable r) {
            Thread t = new Thread(r, "kernels-" + made.size());
            made.add(t);
            return t;
        }
    }

    @Test
    void theKernelsRunOnTheFactorysThreadWithTheSameResultAndTheOpenerKeepsNoTeam() throws Exception {
        try (Dataset data = ThreadTeamTest.rows(700, 11)) {
            float[] plain;
            try (ThreadTeam team = Dense4J.threadTeam(2)) {
                plain = ThreadTeamTest.train(data);
            }
            Recording factory = new Recording();
            float[] offloaded;
            ThreadTeam.Stats stats;
            try (KernelThreads scope = Dense4J.kernelThreads(factory); ThreadTeam team = Dense4J.threadTeam(2)) {
                assertTrue(team.onKernelThread());
                assertEquals(1, factory.made.size(), "one kernel thread per team");
                assertEquals(2, Dense4J.threads(), "the team's size, though the opener has no native team");
                assertEquals(0, CpuThreads.callerThreads(), "the opening thread has no native team of its own");
                String ranOn = KernelThread.call(() -> Thread.currentThread().getName());
                assertEquals("kernels-0", ranOn);
                assertEquals(2, (int) KernelThread.call(CpuThreads::callerThreads), "the kernel thread owns the team");
                offloaded = ThreadTeamTest.train(data);
                stats = team.stats();
            }
            assertArrayEquals(plain, offloaded, "the same 2-thread team, on a kernel thread: the same bits");
            assertTrue(stats.parallel() + stats.serial() > 0, "the team's regions were counted on the kernel thread");
            factory.made.get(0).join(10_000);
            assertFalse(factory.made.get(0).isAlive(), "closing the team ends its kernel thread");
            assertNull(KernelThread.current(), "and gives the opener back its own kernels");
            try (ThreadTeam team = Dense4J.threadTeam(1)) {
                assertFalse(team.onKernelThread(), "outside the scope teams are the opener's again");
            }
        }
    }

    @Test
    void threadsStartedInTheScopeInheritItAndTheirTeamsGetTheirOwnKernelThreads() throws Exception {
        Recording factory = new Recording();
        AtomicReference<Object> seen = new AtomicReference<>();
        try (KernelThreads scope = Dense4J.kernelThreads(factory)) {
            Thread worker = new Thread(() -> {
                try (ThreadTeam team = Dense4J.threadTeam(1)) {
                    seen.set(team.onKernelThread() ? KernelThread.call(() -> Thread.currentThread().getName()) : "inline");
                } catch (Throwable t) {
                    seen.set(t);
                }
            });
            worker.start();
            worker.join(30_000);
        }
        assertEquals("kernels-0", seen.get(), "a trial worker started in the scope runs its team on a kernel thread");
        try (ThreadTeam team = Dense4J.threadTeam(1)) {
            assertFalse(team.onKernelThread(), "the scope is closed on this thread");
        }
    }

    @Test
    void failuresComeBackToTheOpenerAndNestedTeamsRestoreTheOuterKernelThread() {
        Recording factory = new Recording();
        try (KernelThreads scope = Dense4J.kernelThreads(factory); ThreadTeam outer = Dense4J.threadTeam(1)) {
            KernelThread first = KernelThread.current();
            assertNotNull(first);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> KernelThread.call(() -> { throw new IllegalArgumentException("bad arguments"); }));
            assertEquals("bad arguments", e.getMessage());
            assertEquals(4, (int) KernelThread.call(() -> 4), "the kernel thread still serves after a failure");
            try (ThreadTeam inner = Dense4J.threadTeam(2)) {
                assertNotEquals(first, KernelThread.current());
                assertEquals(2, Dense4J.threads());
            }
            assertSame(first, KernelThread.current(), "closing the inner team restores the outer one's thread");
            assertEquals(1, Dense4J.threads());
            Thread other = new Thread(() -> assertThrows(IllegalStateException.class, outer::close));
            other.start();
            assertTrue(joined(other));
        }
        assertEquals(2, factory.made.size());
    }

    @Test
    void aScopeNeedsAFactoryAndIsClosedByItsOwner() throws Exception {
        assertThrows(NullPointerException.class, () -> Dense4J.kernelThreads(null));
        KernelThreads scope = Dense4J.kernelThreads(Thread::new);
        AtomicReference<Throwable> got = new AtomicReference<>();
        Thread other = new Thread(() -> {
            try {
                scope.close();
            } catch (Throwable t) {
                got.set(t);
            }
        });
        other.start();
        other.join(10_000);
        assertTrue(got.get() instanceof IllegalStateException, String.valueOf(got.get()));
        scope.close();
    }

    private static boolean joined(Thread t) {
        try {
            t.join(10_000);
            return !t.isAlive();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
