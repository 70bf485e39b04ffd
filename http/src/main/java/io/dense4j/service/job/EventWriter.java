package io.dense4j.service.job;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Writes one running job's events to its durable log, coalescing the frequent kinds: an {@code epoch} or
 * {@code trial_epoch} event waits (in memory, in order) until {@code minInterval} has passed since the last write,
 * then goes with the others in one batch, one transaction. Any other event (a phase, a trial record, the end), a
 * checkpoint record and the job's end {@link #flush} first, so the log keeps its order and an epoch's event is
 * always committed before a checkpoint that counts it (what a resumed job reads its past epochs from). A small
 * model's epochs take a fraction of a second: one commit (an fsync with SQLite's synchronous=FULL) per epoch would
 * be several a second for the log of a single job. Thread-safe (a tune's trials report from several threads).
 */
public final class EventWriter {
    /** The kinds that may wait: an epoch's metrics and a tuning trial's epoch. */
    public static final Set<String> COALESCED = Set.of("epoch", "trial_epoch");
    /** How long a coalesced event may wait by default. */
    public static final Duration DEFAULT_MIN_INTERVAL = Duration.ofSeconds(1);

    /** Appends a batch of events to the log in one transaction; false when the job's claim was lost. */
    @FunctionalInterface
    public interface Sink {
        boolean write(List<JobEvent> batch);
    }

    private final Sink sink;
    private final long minIntervalNanos;
    private final LongSupplier nanoClock;
    private final List<JobEvent> pending = new ArrayList<>();
    private long lastWrite;

    public EventWriter(Sink sink, Duration minInterval, LongSupplier nanoClock) {
        this.sink = sink;
        this.minIntervalNanos = minInterval.toNanos();
        this.nanoClock = nanoClock;
        this.lastWrite = nanoClock.getAsLong();
    }

    /** Logs an event, now or (a coalesced kind) with a later batch; false when the claim was lost. */
    public synchronized boolean add(JobEvent e) {
        pending.add(e);
        if (COALESCED.contains(e.kind()) && nanoClock.getAsLong() - lastWrite < minIntervalNanos) {
            return true;
        }
        return flush();
    }

    /**
     * Writes whatever waits; false when the claim was lost (nothing more is kept then). When the write fails (an
     * exception: the store busy or gone), the events stay pending for the next flush, in order.
     */
    public synchronized boolean flush() {
        if (pending.isEmpty()) {
            return true;
        }
        List<JobEvent> batch = List.copyOf(pending);
        lastWrite = nanoClock.getAsLong();
        boolean kept = sink.write(batch);
        pending.subList(0, batch.size()).clear();
        return kept;
    }

    /** Events waiting for the next write (for tests and the heartbeat). */
    public synchronized int pending() {
        return pending.size();
    }
}
