package io.dense4j.service.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class EventWriterTest {
    private final AtomicLong clock = new AtomicLong(1_000);
    private final List<List<String>> batches = new ArrayList<>();
    private boolean held = true;

    private EventWriter writer(Duration interval) {
        return new EventWriter(batch -> {
            batches.add(batch.stream().map(e -> e.kind() + e.payload().path("n").asInt()).toList());
            return held;
        }, interval, clock::get);
    }

    private static JobEvent event(String kind, int n) {
        JobEvent e = JobEvent.of(kind);
        e.payload().put("n", n);
        return e;
    }

    private void advanceMillis(long ms) {
        clock.addAndGet(ms * 1_000_000);
    }

    @Test
    void epochEventsWaitForTheIntervalThenGoInOneBatchInOrder() {
        EventWriter w = writer(Duration.ofSeconds(1));
        for (int e = 1; e <= 4; e++) {
            advanceMillis(200); // epochs of 0.2 s
            assertTrue(w.add(event("epoch", e)));
        }
        assertEquals(List.of(), batches, "0.8 s: nothing written yet");
        assertEquals(4, w.pending());
        advanceMillis(200);
        assertTrue(w.add(event("epoch", 5)));
        assertEquals(List.of(List.of("epoch1", "epoch2", "epoch3", "epoch4", "epoch5")), batches);
        assertEquals(0, w.pending());
        advanceMillis(300);
        w.add(event("trial_epoch", 6));
        assertEquals(1, batches.size(), "the interval starts again at each write");
    }

    /** A write that fails (the store busy or gone) loses nothing: its events go, in order, with the next flush. */
    @Test
    void aFailedWriteKeepsItsEventsForTheNext() {
        boolean[] failing = {true};
        EventWriter w = new EventWriter(batch -> {
            if (failing[0]) {
                throw new IllegalStateException("database is locked");
            }
            batches.add(batch.stream().map(e -> e.kind() + e.payload().path("n").asInt()).toList());
            return true;
        }, Duration.ofSeconds(1), clock::get);
        w.add(event("epoch", 1));
        advanceMillis(1500);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> w.add(event("epoch", 2)));
        assertEquals(2, w.pending());
        failing[0] = false;
        assertTrue(w.add(event("phase", 3)));
        assertEquals(List.of(List.of("epoch1", "epoch2", "phase3")), batches);
        assertEquals(0, w.pending());
    }

    @Test
    void anyOtherEventAndAFlushWriteWhatWaitsFirst() {
        EventWriter w = writer(Duration.ofSeconds(1));
        w.add(event("epoch", 1));
        w.add(event("epoch", 2));
        w.add(event("phase", 3)); // e.g. "evaluating": the log stays in order
        assertEquals(List.of(List.of("epoch1", "epoch2", "phase3")), batches);
        w.add(event("epoch", 4));
        assertTrue(w.flush()); // a checkpoint record, a heartbeat or the job's end
        assertTrue(w.flush(), "nothing waits: nothing to write");
        assertEquals(List.of(List.of("epoch1", "epoch2", "phase3"), List.of("epoch4")), batches);
    }

    @Test
    void zeroWritesEveryEventAtOnce() {
        EventWriter w = writer(Duration.ZERO);
        w.add(event("epoch", 1));
        w.add(event("epoch", 2));
        assertEquals(List.of(List.of("epoch1"), List.of("epoch2")), batches);
    }

    @Test
    void aLostClaimIsReportedAndNothingIsKept() {
        EventWriter w = writer(Duration.ofSeconds(1));
        w.add(event("epoch", 1));
        held = false;
        assertFalse(w.add(event("trial", 2)));
        assertEquals(0, w.pending());
        assertFalse(w.add(event("state", 3)));
    }
}
