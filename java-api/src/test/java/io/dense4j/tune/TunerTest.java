package io.dense4j.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.train.CrossValidation;
import io.dense4j.train.EpochLog;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TunerTest {
    static Dataset data;
    static final JsonNode CONFIG = Json.parse(SearchSpaceTest.CONFIG);

    @BeforeAll
    static void load() {
        data = Blobs.of(600, 8, 3, 1.2, 7);
    }

    @AfterAll
    static void close() {
        data.close();
    }

    static TuneSpec spec(String json) {
        return TuneSpec.parse(Json.parse(json), ConfigAdapter.parse(CONFIG));
    }

    @Test
    void aKFoldTrialIsExactlyCrossValidationKFold() {
        TuneSpec s = spec("""
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "choice", "values": [0.02]}},
                 "objective": {"type": "kfold", "k": 3, "seed": 5}, "max_trials": 1, "threads_per_trial": 2}""");
        TuneResult r = new Tuner(s, CONFIG).search(data);
        TrialRecord t = r.trials().get(0);
        JsonNode cfg = t.config();
        ConfigAdapter c = ConfigAdapter.parse(cfg);
        CrossValidation.Report cv = CrossValidation.kFold(3, () -> c.newModel(8, data.classNames()), data, c.fit(), 5);
        assertEquals(cv.meanAccuracy(), t.score(), 0.0);
        assertEquals(cv.meanLoss(), t.rungs().get(0).loss(), 0.0);
        assertEquals(cv.stdAccuracy(), t.rungs().get(0).accuracyStd(), 0.0);
        assertTrue(t.score() > 0.8, "the blobs are learnable: " + t.score());
    }

    @Test
    void parallelTrialsGiveTheSameTrialsAsSequentialOnes() {
        String json = """
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1},
                                  "/model/layers/0/units": {"type": "int", "min": 4, "max": 32, "log": true}},
                 "sampler": {"type": "sobol", "seed": 2}, "objective": {"type": "holdout", "fraction": 0.25},
                 "max_trials": 6, "max_parallel_trials": %d,
                 "early_stopping": {"type": "successive_halving", "min_epochs": 1, "max_epochs": 4, "reduction_factor": 2}}""";
        TuneResult one = new Tuner(spec(json.formatted(1)), CONFIG).search(data);
        TuneResult two = new Tuner(spec(json.formatted(3)), CONFIG).search(data);
        assertEquals(6, one.trials().size());
        for (int i = 0; i < 6; i++) {
            TrialRecord a = one.trials().get(i);
            TrialRecord b = two.trials().get(i);
            assertEquals(a.values(), b.values());
            assertEquals(a.epochs(), b.epochs(), "trial " + i);
            assertEquals(a.score(), b.score(), 0.0, "trial " + i);
        }
        assertEquals(one.best().orElseThrow().id(), two.best().orElseThrow().id());
        // rungs 1, 2, 4: six trials, three go to 2 epochs, one to 4
        assertEquals(List.of(1, 2, 4), List.of(one.rungs()[0], one.rungs()[1], one.rungs()[2]));
        assertEquals(3, one.trials().stream().filter(t -> t.epochs() >= 2).count());
        assertEquals(1, one.trials().stream().filter(t -> t.epochs() == 4).count());
        assertEquals(4, one.best().orElseThrow().epochs());
        assertEquals(TrialRecord.State.COMPLETED, one.best().orElseThrow().state());
        assertEquals(5, one.trials().stream().filter(t -> t.state() == TrialRecord.State.STOPPED).count());
    }

    /** A promoted trial continues its models: the epochs go on counting, and the loss starts where it stopped. */
    /** With cpus, every model trained at once runs on a private team of an equal share of them. */
    @Test
    void parallelTrialsShareTheSearchsCpusOut() {
        String json = """
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1}},
                 "objective": {"type": "kfold", "k": 2, "seed": 1}, "max_trials": 4, "max_parallel_trials": 2,
                 "threads_per_trial": %d}""";
        for (int[] c : new int[][] {{1, 8, 4}, {2, 8, 2}, {2, 3, 1}}) { // threads per trial, cpus, expected team
            Map<String, Integer> teams = new ConcurrentHashMap<>();
            TuneListener l = new TuneListener() {
                @Override
                public void onTrialEpoch(int trial, int fold, int totalEpoch, EpochLog log) {
                    teams.put(Thread.currentThread().getName(), io.dense4j.Dense4J.threads()); // the training thread
                }
            };
            TuneResult r = new Tuner(spec(json.formatted(c[0])), CONFIG, Tuner.Options.defaults().withListener(l)
                    .withCpus(c[1])).search(data);
            assertEquals(4, r.trials().size());
            assertEquals(2 * c[0], teams.size(), "training threads: " + teams);
            assertTrue(teams.values().stream().allMatch(t -> t == c[2]), c[1] + " cpus, " + c[0] + " threads per trial: " + teams);
        }
    }

    @Test
    void promotedTrialsContinueFromWhereTheyStopped() {
        Map<Integer, List<EpochLog>> epochs = new ConcurrentHashMap<>();
        Map<Integer, List<Integer>> epochNumbers = new ConcurrentHashMap<>();
        TuneListener l = new TuneListener() {
            @Override
            public void onTrialEpoch(int trial, int fold, int totalEpoch, EpochLog log) {
                epochs.computeIfAbsent(trial, k -> Collections.synchronizedList(new ArrayList<>())).add(log);
                epochNumbers.computeIfAbsent(trial, k -> Collections.synchronizedList(new ArrayList<>())).add(totalEpoch);
            }
        };
        TuneSpec s = spec("""
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 3e-3, "max": 3e-2}},
                 "sampler": {"type": "random", "seed": 9}, "max_trials": 4, "max_parallel_trials": 2,
                 "early_stopping": {"type": "asha", "min_epochs": 1, "max_epochs": 4, "reduction_factor": 2}}""");
        TuneResult r = new Tuner(s, CONFIG, Tuner.Options.defaults().withListener(l)).search(data);
        TrialRecord best = r.best().orElseThrow();
        assertTrue(best.rungs().size() >= 2, "the best trial was promoted");
        List<Integer> numbers = epochNumbers.get(best.id());
        assertEquals(best.epochs(), numbers.size(), "each epoch trained once: no restart from scratch");
        for (int i = 0; i < numbers.size(); i++) {
            assertEquals(i + 1, numbers.get(i));
        }
        // the first epoch after the promotion starts from trained weights: its loss is far below the first epoch's
        List<EpochLog> logs = epochs.get(best.id());
        assertTrue(logs.get(1).loss() < 0.8 * logs.get(0).loss(), logs.toString());
        assertEquals(best.rungs().get(1).history().get(0).get("loss").size(), best.rungs().get(1).epochs() - best.rungs().get(0).epochs());
    }

    /**
     * Paused trials' models beyond the memory budget are given up and, promoted, trained again from the start: with
     * a budget of 0 bytes (every paused trial gives its models up) the search finds exactly what it finds keeping
     * them all.
     */
    @Test
    void pausedTrialsBeyondTheModelBudgetRetrainToTheSameResults() {
        TuneSpec s = spec("""
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 3e-3, "max": 3e-2}},
                 "sampler": {"type": "random", "seed": 9}, "max_trials": 4, "max_parallel_trials": 2,
                 "early_stopping": {"type": "successive_halving", "min_epochs": 1, "max_epochs": 4, "reduction_factor": 2}}""");
        Tuner keeping = new Tuner(s, CONFIG);
        TuneResult kept = keeping.search(data);
        assertEquals(0, keeping.rebuiltModels.get(), "within the default budget every paused model is kept");
        Tuner giving = new Tuner(s, CONFIG, Tuner.Options.defaults().withPausedModelBytes(0));
        TuneResult given = giving.search(data);
        assertTrue(giving.rebuiltModels.get() >= 2, "promoted trials trained again: " + giving.rebuiltModels.get());
        assertEquals(kept.trials().size(), given.trials().size());
        for (TrialRecord a : kept.trials()) {
            TrialRecord b = given.trials().stream().filter(t -> t.id() == a.id()).findFirst().orElseThrow();
            assertEquals(a.epochs(), b.epochs());
            assertEquals(a.rungs().size(), b.rungs().size());
            for (int i = 0; i < a.rungs().size(); i++) {
                assertEquals(a.rungs().get(i).loss(), b.rungs().get(i).loss(), 0.0, "trial " + a.id() + " rung " + i);
                assertEquals(a.rungs().get(i).accuracy(), b.rungs().get(i).accuracy(), 0.0);
            }
        }
        assertEquals(kept.best().orElseThrow().id(), given.best().orElseThrow().id());
    }

    /** A trial promoted rung by rung ends exactly where the same trial trained to its epochs in one go ends. */
    @Test
    void aPromotedTrialMatchesTheSameTrialTrainedInOneGo() {
        String space = """
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 3e-3, "max": 3e-2}},
                 "sampler": {"type": "random", "seed": 9}, "max_trials": 4, "max_parallel_trials": 2 %s}""";
        TuneResult halving = new Tuner(spec(space.formatted(
                ", \"early_stopping\": {\"type\": \"successive_halving\", \"min_epochs\": 1, \"max_epochs\": 4, \"reduction_factor\": 2}")),
                CONFIG).search(data);
        TrialRecord promoted = halving.trials().stream().filter(t -> t.epochs() == 4).findFirst().orElseThrow();
        assertEquals(3, promoted.rungs().size(), "trained 1, then 2, then 4 epochs");
        JsonNode fourEpochs = Json.parse(SearchSpaceTest.CONFIG.replace("\"epochs\": 2", "\"epochs\": 4"));
        TuneSpec oneGo = TuneSpec.parse(Json.parse(space.formatted("")), ConfigAdapter.parse(fourEpochs));
        TrialRecord straight = new Tuner(oneGo, fourEpochs).search(data).trials().stream()
                .filter(t -> t.id() == promoted.id()).findFirst().orElseThrow();
        assertEquals(promoted.values(), straight.values());
        assertEquals(4, straight.epochs());
        TrialRecord.RungResult a = promoted.rungs().get(2);
        TrialRecord.RungResult b = straight.rungs().get(0);
        assertEquals(b.loss(), a.loss(), 0.0, "holdout loss after 4 epochs, promoted vs in one go");
        assertEquals(b.accuracy(), a.accuracy(), 0.0);
    }

    @Test
    void optimizerSettingsAndSchedulesAreSearchedLikeAnythingElse() {
        TuneSpec s = spec("""
                {"search_space": {
                   "/model/compile_config/optimizer/learning_rate": {"type": "choice", "values": [
                       0.01, {"type": "step_decay", "initial_learning_rate": 0.01, "step_epochs": 1, "decay_rate": 0.5},
                       {"type": "cosine_decay", "initial_learning_rate": 0.01, "decay_steps": 60}]},
                   "/model/compile_config/optimizer/type": {"type": "choice", "values": ["adam", "rmsprop"]},
                   "/model/compile_config/optimizer/beta_2": {"type": "uniform", "min": 0.9, "max": 0.999, "when": {"/model/compile_config/optimizer/type": "adam"}},
                   "/model/compile_config/optimizer/centered": {"type": "choice", "values": [true, false], "when": {"/model/compile_config/optimizer/type": "rmsprop"}}},
                 "sampler": {"type": "grid"}, "max_trials": 12}""".replace("\"uniform\", \"min\": 0.9, \"max\": 0.999",
                "\"uniform\", \"min\": 0.9, \"max\": 0.999, \"grid_points\": 2"));
        TuneResult r = new Tuner(s, CONFIG).search(data);
        // 3 schedules x (adam x 2 beta2 + rmsprop x 2 centered) = 12 distinct configs
        assertEquals(12, r.trials().size());
        assertTrue(r.trials().stream().allMatch(t -> t.state() == TrialRecord.State.COMPLETED), r.toJson().toString());
        for (TrialRecord t : r.trials()) {
            boolean adam = t.config().at("/model/compile_config/optimizer/type").asText().equals("adam");
            assertEquals(adam, t.values().containsKey("/model/compile_config/optimizer/beta_2"));
            assertEquals(!adam, t.values().containsKey("/model/compile_config/optimizer/centered"));
        }
        assertEquals(12, r.trials().stream().map(t -> t.values().toString()).distinct().count());
    }

    /**
     * Found by an audit: with a choice of optimizers and a learning rate searched inside it, the record showed the
     * choice's own learning rate (-5, never trained with) instead of the one the trial trained with.
     */
    @Test
    void aParameterInsideAnothersValueIsRecordedAsItTrained() {
        TuneSpec s = spec("""
                {"search_space": {
                   "/model/compile_config/optimizer": {"type": "choice", "values": [
                       {"type": "sgd", "learning_rate": -5}, {"type": "adam", "learning_rate": 0.5}]},
                   "/model/compile_config/optimizer/learning_rate": {"type": "choice", "values": [0.01, 0.02]}},
                 "sampler": {"type": "grid"}}""");
        TuneResult r = new Tuner(s, CONFIG).search(data);
        assertEquals(4, r.trials().size());
        for (TrialRecord t : r.trials()) {
            double lr = t.values().get("/model/compile_config/optimizer/learning_rate").asDouble();
            assertEquals(lr, t.values().get("/model/compile_config/optimizer").path("learning_rate").asDouble(), 0.0,
                    t.values().toString());
            assertEquals(lr, t.config().at("/model/compile_config/optimizer/learning_rate").asDouble(), 0.0);
            assertEquals(TrialRecord.State.COMPLETED, t.state(), String.valueOf(t.error()));
        }
    }

    /** Found by an audit: a misspelt "when" pointer silently switched its parameter off for every trial. */
    @Test
    void aConditionOnAPathNobodyHasIsRefused() {
        TuneSpec s = spec("""
                {"search_space": {
                   "/model/layers/0/units": {"type": "choice", "values": [8, 16], "when": {"/model/layers/0/activaton": "relu"}}},
                 "sampler": {"type": "grid"}}""");
        ConfigException e = assertThrows(ConfigException.class, () -> new Tuner(s, CONFIG));
        assertEquals("/search_space/~1model~1layers~10~1units/when", e.path(), e.getMessage());
        assertTrue(e.getMessage().contains("'/model/layers/0/activaton' names no field"), e.getMessage());
        // a condition on another search parameter's path is fine (it is set before the condition is read)
        new Tuner(spec("""
                {"search_space": {
                   "/model/compile_config/optimizer/type": {"type": "choice", "values": ["adam", "rmsprop"]},
                   "/model/compile_config/optimizer/centered": {"type": "choice", "values": [true, false], "when": {"/model/compile_config/optimizer/type": "rmsprop"}}},
                 "sampler": {"type": "grid"}}"""), CONFIG);
        ConfigException tilde = assertThrows(ConfigException.class, () -> spec("""
                {"search_space": {"/model/compile_config/optimizer/learning_rate~2": {"type": "choice", "values": [0.1]}}}"""));
        assertTrue(tilde.getMessage().contains("'~' must be followed by 0"), tilde.getMessage());
    }

    @Test
    void failedTrialsAreRecordedAndTheSearchGoesOn() {
        TuneSpec s = spec("""
                {"search_space": {"/model/compile_config/optimizer": {"type": "choice", "values": [
                      {"type": "sgd", "learning_rate": 0.05, "nesterov": true},
                      {"type": "adam", "learning_rate": 0.01},
                      {"type": "sgd", "learning_rate": 1e30}]}},
                 "sampler": {"type": "grid"}}""");
        TuneResult r = new Tuner(s, CONFIG).search(data);
        assertEquals(3, r.trials().size());
        TrialRecord nesterov = r.trials().get(0);
        assertEquals(TrialRecord.State.FAILED, nesterov.state());
        assertTrue(nesterov.error().contains("Nesterov"), nesterov.error());
        assertEquals(TrialRecord.State.COMPLETED, r.trials().get(1).state());
        TrialRecord huge = r.trials().get(2);
        assertEquals(TrialRecord.State.FAILED, huge.state());
        assertTrue(huge.error().toLowerCase().contains("nan") || huge.error().contains("finite"), huge.error());
        assertEquals(1, r.best().orElseThrow().id());
        String json = r.toJson().toString();
        assertTrue(json.contains("\"best_trial\":1"), json);
    }

    @Test
    void cancellationStopsWithinAChunkAndKeepsWhatWasFound() {
        AtomicBoolean cancel = new AtomicBoolean();
        TuneListener l = new TuneListener() {
            @Override
            public void onTrialResult(TrialRecord trial) {
                cancel.set(true);
            }
        };
        TuneSpec s = spec("""
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1}},
                 "max_trials": 50, "max_parallel_trials": 2}""");
        Tuner.TuneCancelledException e = assertThrows(Tuner.TuneCancelledException.class,
                () -> new Tuner(s, CONFIG, Tuner.Options.defaults().withListener(l).withCancellation(cancel::get))
                        .search(data));
        assertTrue(e.partial().trials().size() < 10, "stopped early: " + e.partial().trials().size());
        assertTrue(e.partial().trials().stream().anyMatch(t -> t.state() == TrialRecord.State.COMPLETED));
        assertFalse(Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().startsWith("tune-worker") && t.isAlive() && !t.getState().equals(Thread.State.TERMINATED)
                        && waitDead(t)), "worker threads are gone");
    }

    /**
     * An interrupt of the searching thread (here from its own listener, while the other trial still trains) ends the
     * search with a CancellationException, the interrupt kept, once every trial has returned: the models and fold
     * data they train are freed only then (the pending interrupt used to cut that wait short: freed while trained).
     */
    @Test
    void anInterruptedSearchFreesNothingATrialStillTrains() {
        TuneListener l = new TuneListener() {
            @Override
            public void onTrialResult(TrialRecord trial) {
                Thread.currentThread().interrupt();
            }
        };
        TuneSpec s = spec("""
                {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1}},
                 "max_trials": 6, "max_parallel_trials": 2}""");
        for (int round = 0; round < 3; round++) {
            assertThrows(java.util.concurrent.CancellationException.class,
                    () -> new Tuner(s, CONFIG, Tuner.Options.defaults().withListener(l)).search(data));
            assertTrue(Thread.interrupted(), "the interrupt is kept for the caller");
        }
        assertFalse(Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().startsWith("tune-worker") && t.isAlive() && waitDead(t)), "workers are gone");
    }

    private static boolean waitDead(Thread t) {
        try {
            t.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return t.isAlive();
    }

    @Test
    void theBestTrialIsRetrainedOnAllRows() {
        TuneSpec s = spec("""
                {"search_space": {"/model/layers/0/units": {"type": "choice", "values": [4, 16]}},
                 "sampler": {"type": "grid"}, "objective": {"type": "holdout", "fraction": 0.3, "seed": 1}}""");
        Tuner tuner = new Tuner(s, CONFIG);
        TuneResult r = tuner.search(data);
        TrialRecord best = r.best().orElseThrow();
        try (Sequential m = tuner.retrain(best, data)) {
            assertEquals(600, ((Number) m.trainingInfo().get("training_rows")).intValue());
            assertEquals(best.config().at("/model/layers/0/units").asInt(), m.architecture().sizes()[1]);
            assertTrue(m.evaluate(data).accuracy() > 0.8);
        }
    }

    @Test
    void badSpecsAreRefusedBeforeTraining() {
        assertRefused("{\"search_space\": {\"/model/layers/7/units\": {\"type\": \"int\", \"min\": 1, \"max\": 4}}}",
                "outside the config's array");
        assertRefused("{\"search_space\": {\"/x\": {\"type\": \"choice\", \"values\": [1]}}, \"metric\": \"f1\"}",
                "expected accuracy");
        assertRefused("{\"search_space\": {\"/fit/epochs\": {\"type\": \"choice\", \"values\": [1]}}, "
                + "\"early_stopping\": {\"type\": \"asha\", \"max_epochs\": 3}}", "cannot be searched");
        assertRefused("{\"search_space\": {\"/x\": {\"type\": \"choice\", \"values\": [1]}}, \"max_trials\": 0}",
                "/max_trials");
        assertRefused("{\"search_space\": {\"/x\": {\"type\": \"choice\", \"values\": [1]}}, \"threads_per_trial\": 2}",
                "k-fold");
        assertRefused("{\"search_space\": {\"/x\": {\"type\": \"choice\", \"values\": [1]}}, \"samplr\": {}}",
                "unknown field [samplr]");
        // each fold-epoch keeps its metrics in the trial's record: 100 folds x 100,000 epochs was one record's worth
        assertRefused("{\"search_space\": {\"/x\": {\"type\": \"choice\", \"values\": [1]}}, "
                + "\"objective\": {\"type\": \"kfold\", \"k\": 100}, "
                + "\"early_stopping\": {\"type\": \"asha\", \"max_epochs\": 100000}}", "10000000 fold-epochs");
        // and the trials together: 10,000 trials of up to 100,000 fold-epochs each were 10^9 fold-epochs of records
        assertRefused("{\"search_space\": {\"/fit/epochs\": {\"type\": \"int\", \"min\": 1, \"max\": 201}}, "
                + "\"max_trials\": 5000}", "1005000 fold-epochs (5000 trials x up to 201 epochs)");
        // epochs chosen with the rest of /fit count the same (the whole config, "", cannot be searched)
        assertRefused("{\"search_space\": {\"/fit\": {\"type\": \"choice\", \"values\": [{\"epochs\": 1}, "
                + "{\"epochs\": 100000, \"batch_size\": 16}]}}, \"max_trials\": 5000}",
                "500000000 fold-epochs (5000 trials x up to 100000 epochs)");
        assertRefused("{\"search_space\": {\"/fit\": {\"type\": \"choice\", \"values\": [{\"epochs\": 2}]}}, "
                + "\"early_stopping\": {\"type\": \"asha\", \"max_epochs\": 3}}", "cannot be searched");
        assertRefused("{\"search_space\": {\"/x\": {\"type\": \"choice\", \"values\": [1]}}, \"max_trials\": 10000, "
                + "\"early_stopping\": {\"type\": \"asha\", \"min_epochs\": 100, \"max_epochs\": 100000}}",
                "over the rungs [100, 300, 900");
        // at the bound it is taken: 5000 trials x 200 epochs; a search whose halving keeps it under the bound too
        new Tuner(spec("{\"search_space\": {\"/fit/epochs\": {\"type\": \"choice\", \"values\": [3, 200]}}, "
                + "\"max_trials\": 5000}"), CONFIG);
        new Tuner(spec("{\"search_space\": {\"/model/layers/0/units\": {\"type\": \"int\", \"min\": 2, \"max\": 9999}}, \"max_trials\": 10000, "
                + "\"early_stopping\": {\"type\": \"asha\", \"min_epochs\": 1, \"max_epochs\": 1000}}"), CONFIG);
    }

    private static void assertRefused(String spec, String expected) {
        ConfigException e = assertThrows(ConfigException.class, () -> new Tuner(spec(spec), CONFIG));
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
