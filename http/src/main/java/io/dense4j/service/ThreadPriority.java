package io.dense4j.service;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Lowers the CPU scheduling priority of the calling thread (Linux: its nice value), so that training yields the
 * processor to inference when both want it. Java's {@code Thread.setPriority} does nothing on Linux without root
 * and a JVM flag; a Linux thread has its own nice value, which threads it creates inherit (a tune job's trial
 * workers, the native kernels' pool threads). Raising one's own nice value needs no privilege. Elsewhere this does nothing.
 * {@link #IDLE} goes further than nice 19: Linux's SCHED_IDLE policy (also inherited, also unprivileged), under which
 * the thread runs only on CPU time no other thread wants and is preempted as soon as an inference thread wakes up.
 */
public final class ThreadPriority {
    private static final Logger LOG = Logger.getLogger(ThreadPriority.class.getName());
    private static volatile boolean warned;

    /** Below every nice value: the SCHED_IDLE scheduling policy (Linux). */
    public static final int IDLE = 20;
    private static final int SCHED_IDLE = 5; // the policy's number in /proc/<pid>/task/<tid>/stat, field 41

    private ThreadPriority() {}

    /**
     * Sets the calling thread's nice value to {@code nice} (0..19) when it is lower, or with {@link #IDLE} nice 19
     * and the SCHED_IDLE policy; returns the value it has afterwards ({@link #IDLE} once it is under SCHED_IDLE), or
     * -1 where that cannot be read (not Linux).
     */
    public static int lowerCurrentThread(int nice) {
        long tid = currentTid();
        if (tid < 0 || nice <= 0) {
            return tid < 0 ? -1 : niceOf(tid);
        }
        if (nice >= IDLE) {
            lowerCurrentThread(19); // where SCHED_IDLE cannot be had, the lowest nice value still holds
            if (policyOf(tid) != SCHED_IDLE) {
                run("chrt", "--idle", "-p", "0", Long.toString(tid));
            }
            if (policyOf(tid) == SCHED_IDLE) {
                return IDLE;
            }
            warnOnce("could not put training threads under SCHED_IDLE (chrt): they run at nice " + niceOf(tid));
            return niceOf(tid);
        }
        int now = niceOf(tid);
        if (now >= nice) {
            return now;
        }
        // util-linux renice on one thread id: setpriority(PRIO_PROCESS, tid) changes that thread only
        run("renice", "-n", Integer.toString(nice), "-p", Long.toString(tid));
        int after = niceOf(tid);
        if (after < nice) {
            warnOnce("could not lower the priority of training threads (nice " + after + ")");
        }
        return after;
    }

    /** Runs a util-linux command that changes one thread's scheduling; its failure shows in /proc afterwards. */
    private static void run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (IOException e) {
            warnOnce(command[0] + " is not available (" + e.getMessage() + "): training threads keep a higher priority");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The Linux thread id of the calling thread, or -1. */
    static long currentTid() {
        try {
            // /proc/thread-self -> "<pid>/task/<tid>", resolved for whichever thread reads it
            String link = Files.readSymbolicLink(Path.of("/proc/thread-self")).toString();
            return Long.parseLong(link.substring(link.lastIndexOf('/') + 1));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** A thread's nice value from /proc (field 19 of its stat line), or -1. */
    static int niceOf(long tid) {
        try {
            String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(f[16]); // fields after "(comm)": state is field 3, nice field 19
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** A thread's scheduling policy from /proc (field 41 of its stat line: 0 normal, 5 SCHED_IDLE), or -1. */
    static int policyOf(long tid) {
        try {
            String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(f[38]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static void warnOnce(String message) {
        if (!warned) {
            warned = true;
            LOG.log(Level.WARNING, message);
        }
    }
}
