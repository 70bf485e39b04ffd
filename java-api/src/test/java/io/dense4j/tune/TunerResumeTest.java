package io.dense4j.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.data.Dataset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * A search whose process died resumes from its trials' last records (as a job's store keeps them): finished trials
 * are kept, the rest run again, and the search ends with the trials and the best of the search never interrupted.
 */
class TunerResumeTest {
    static Dataset data;
    static final JsonNode CONFIG = Json.parse(SearchSpaceTest.CONFIG);

    @BeforeAll
    static void load() {
        data = Blobs.of(300, 8, 3, 1.6, 7);
    }

    @AfterAll
    static void close() {
        data.close();
    }

    static TuneSpec spec(String halving, int maxTrials) {
        return spec(halving, maxTrials, 9);
    }

    static TuneSpec spec(String halving, int maxTrials, int seed) {
        return TuneSpec.parse(Json.parse("""
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1},
                                  "/model/layers/0/units": {"type": "int", "min": 4, "max": 32, "log": true}},
                 "sampler": {"type": "random", "seed": %d}, "objective": {"type": "holdout", "fraction": 0.25},
                 "max_trials": %d, "max_parallel_trials": 1 %s}""".formatted(seed, maxTrials, halving)),
                ConfigAdapter.parse(CONFIG));
    }

    static final String SYNC = ", \"early_stopping\": {\"type\": \"successive_halving\", \"min_epochs\": 1, "
            + "\"max_epochs\": 4, \"reduction_factor\": 2}";
    static final String ASHA = ", \"early_stopping\": {\"type\": \"asha\", \"min_epochs\": 1, \"max_epochs\": 4, "
            + "\"reduction_factor\": 2}";

    /** What a job's store holds: each trial's last record, written as JSON and read back. */
    static final class Store implements TuneListener {
        final Map<Integer, TrialRecord> last = new TreeMap<>();
        final List<Integer> starts = new ArrayList<>();
        final int dieAtStart;
        final boolean recordsToTheEnd;
        final AtomicBoolean dead = new AtomicBoolean();

        /** {@code recordsToTheEnd}: a cancelled search (its last records written), not a killed one. */
        Store(int dieAtStart, boolean recordsToTheEnd) {
            this.dieAtStart = dieAtStart;
            this.recordsToTheEnd = recordsToTheEnd;
        }

        Store(int dieAtStart) {
            this(dieAtStart, false);
        }

        private synchronized void keep(TrialRecord t) {
            if (!dead.get() || recordsToTheEnd) {
                last.put(t.id(), TrialRecord.fromJson(Json.parse(t.toJson().toString())));
            }
        }

        @Override
        public synchronized void onTrialStart(TrialRecord trial, int targetEpochs) {
            if (dead.get()) {
                return;
            }
            starts.add(trial.id());
            keep(trial);
            if (starts.size() == dieAtStart) {
                dead.set(true); // the process dies with this trial running: nothing after this is recorded
            }
        }

        @Override
        public void onTrialResult(TrialRecord trial) {
            keep(trial);
        }

        synchronized List<TrialRecord> records() {
            return new ArrayList<>(last.values());
        }
    }

    static void assertSameSearch(TuneResult expected, TuneResult actual) {
        assertEquals(expected.trials().size(), actual.trials().size());
        for (int i = 0; i < expected.trials().size(); i++) {
            TrialRecord a = expected.trials().get(i);
            TrialRecord b = actual.trials().get(i);
            assertEquals(a.id(), b.id());
            assertEquals(Json.write(a.values()), Json.write(b.values()), "trial " + i + " parameters");
            assertEquals(a.state(), b.state(), "trial " + i + " state");
            assertEquals(a.epochs(), b.epochs(), "trial " + i + " epochs");
            assertEquals(a.score(), b.score(), 0.0, "trial " + i + " score");
            assertEquals(a.rungs().size(), b.rungs().size(), "trial " + i + " rungs");
            for (int k = 0; k < a.rungs().size(); k++) {
                assertEquals(a.rungs().get(k).score(), b.rungs().get(k).score(), 0.0, "trial " + i + " rung " + k);
                List<Map<String, List<Double>>> ha = a.rungs().get(k).history();
                List<Map<String, List<Double>>> hb = b.rungs().get(k).history();
                assertEquals(ha.size(), hb.size(), "trial " + i + " rung " + k + " folds");
                for (int f = 0; f < ha.size(); f++) {
                    assertEquals(ha.get(f).get("loss"), hb.get(f).get("loss"),
                            "trial " + i + " rung " + k + ": the losses of the rung's own epochs");
                }
            }
        }
        assertEquals(expected.best().orElseThrow().id(), actual.best().orElseThrow().id(), "the best trial");
        assertEquals(expected.best().orElseThrow().score(), actual.best().orElseThrow().score(), 0.0);
    }

    @ParameterizedTest(name = "{0}, dies at start {1}, cancelled {2}")
    @CsvSource({"none, 4, false", "sync, 5, false", "sync, 10, false", "asha, 5, false", "sync, 10, true",
            "asha, 5, true", "none, 4, true"})
    void aResumedSearchEndsAsTheUninterruptedOne(String halving, int dieAtStart, boolean cancelled) {
        String h = switch (halving) {
            case "sync" -> SYNC;
            case "asha" -> ASHA;
            default -> "";
        };
        TuneSpec spec = spec(h, 8);
        Store straightLog = new Store(Integer.MAX_VALUE);
        TuneResult straight = new Tuner(spec, CONFIG, Tuner.Options.defaults().withListener(straightLog)).search(data);

        Store died = new Store(dieAtStart, cancelled);
        assertThrows(Tuner.TuneCancelledException.class, () -> new Tuner(spec, CONFIG,
                Tuner.Options.defaults().withListener(died).withCancellation(died.dead::get)).search(data));
        List<TrialRecord> kept = died.records();
        TrialRecord.State wasRunning = cancelled ? TrialRecord.State.CANCELLED : TrialRecord.State.RUNNING;
        assertTrue(kept.stream().anyMatch(t -> t.state() == wasRunning), "one was running: " + kept);
        assertTrue(kept.stream().anyMatch(t -> !t.rungs().isEmpty()), "some had results: " + kept);

        Tuner again = new Tuner(spec, CONFIG);
        assertTrue(again.resumeProblem(kept).isEmpty(), again.resumeProblem(kept).orElse(""));
        Store resumedLog = new Store(Integer.MAX_VALUE);
        TuneResult resumed = new Tuner(spec, CONFIG, Tuner.Options.defaults().withListener(resumedLog))
                .search(data, kept);
        assertSameSearch(straight, resumed);

        // what ended before the process died never runs again; what the straight search started after it did
        for (TrialRecord t : kept) {
            if (t.state().terminal() && t.state() != TrialRecord.State.CANCELLED) {
                assertFalse(resumedLog.starts.contains(t.id()), "trial " + t.id() + " ended before: not run again");
            }
        }
        List<Integer> after = straightLog.starts.subList(dieAtStart - 1, straightLog.starts.size());
        assertEquals(after, resumedLog.starts, "the resumed search starts what the straight one did from the death on");
        if (!h.isEmpty()) {
            // a paused trial's models died with the process: promoted now, it is trained again to the same scores
            assertTrue(kept.stream().anyMatch(t -> t.state() == TrialRecord.State.PAUSED
                    && resumedLog.starts.contains(t.id())), "a paused trial is promoted after the restart");
        }
    }

    @Test
    void recordsOfAnotherSearchAreRefusedBeforeAnythingTrains() {
        Store died = new Store(3);
        TuneSpec spec = spec("", 6);
        assertThrows(Tuner.TuneCancelledException.class, () -> new Tuner(spec, CONFIG,
                Tuner.Options.defaults().withListener(died).withCancellation(died.dead::get)).search(data));
        List<TrialRecord> kept = died.records();

        // another sampler seed draws other parameters for the same trial numbers
        Tuner t = new Tuner(spec("", 6, 10), CONFIG);
        assertTrue(t.resumeProblem(kept).orElse("").contains("not the same search"), t.resumeProblem(kept).toString());
        assertThrows(IllegalArgumentException.class, () -> t.search(data, kept));

        // other rungs
        Tuner halving = new Tuner(spec(SYNC, 6), CONFIG);
        assertTrue(halving.resumeProblem(kept).isPresent());
        // fewer trials than were recorded
        assertTrue(new Tuner(spec("", 1), CONFIG).resumeProblem(kept).orElse("").contains("runs only"));
        // records after a gap are drawn again; a gap at 0 is a fresh search
        List<TrialRecord> gap = kept.stream().filter(r -> r.id() != 0).toList();
        assertTrue(new Tuner(spec, CONFIG).resumeProblem(gap).isEmpty());
        // a record that does not read back
        assertThrows(ConfigException.class, () -> TrialRecord.fromJson(Json.parse("{\"id\": -1}")));
        assertThrows(ConfigException.class, () -> TrialRecord.fromJson(Json.parse(
                "{\"id\": 0, \"state\": \"sleeping\", \"params\": {}, \"epochs\": 0, \"rungs\": []}")));
        assertThrows(ConfigException.class, () -> TrialRecord.fromJson(Json.parse(
                "{\"id\": 0, \"state\": \"paused\", \"params\": {}, \"epochs\": 0, \"rungs\": {}}")));
    }
}
