package io.dense4j.service.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CheckpointScheduleTest {
    private static final long S = 1_000_000_000L;

    /** The epochs (1-based) checkpointed when epoch e ends at ends[e - 1] seconds, with the given interval. */
    private static List<Integer> checkpointed(Duration interval, double start, double... ends) {
        CheckpointSchedule c = new CheckpointSchedule(interval, (long) (start * S));
        List<Integer> saved = new ArrayList<>();
        for (int e = 1; e <= ends.length; e++) {
            long now = (long) (ends[e - 1] * S);
            if (c.due(e, ends.length, now)) {
                saved.add(e);
                c.saved(now);
            }
        }
        return saved;
    }

    @Test
    void zeroCheckpointsEveryEpoch() {
        assertEquals(List.of(1, 2, 3, 4), checkpointed(Duration.ZERO, 0, 0.1, 0.2, 0.2, 0.3));
    }

    @Test
    void anIntervalSkipsEpochsUntilItHasPassedAndAlwaysKeepsTheLast() {
        // epochs of 0.4 s, interval 1 s: the first epoch ending 1 s or more after the last checkpoint, then the last
        assertEquals(List.of(3, 5, 8, 9), checkpointed(Duration.ofSeconds(1), 0, 0.4, 0.8, 1.2, 1.6, 2.2, 2.6, 3.0, 3.3, 3.4));
        // counted from the start of training, not from zero on the clock
        assertEquals(List.of(3, 4), checkpointed(Duration.ofSeconds(1), 100, 100.4, 100.8, 101.2, 101.6));
        // epochs longer than the interval: every one
        assertEquals(List.of(1, 2, 3), checkpointed(Duration.ofSeconds(1), 0, 5, 10, 15));
        // a one-epoch fit, and an interval far beyond the job: only the end
        assertEquals(List.of(1), checkpointed(Duration.ofSeconds(30), 0, 0.2));
        assertEquals(List.of(6), checkpointed(Duration.ofDays(7), 0, 1, 2, 3, 4, 5, 6));
    }

    @Test
    void aNegativeIntervalIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new CheckpointSchedule(Duration.ofMillis(-1), 0));
    }
}
