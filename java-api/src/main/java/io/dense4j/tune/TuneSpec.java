package io.dense4j.tune;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What a hyperparameter search does, parsed and validated from JSON:
 *
 * <pre>
 * {
 *   "search_space": { "/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-4, "max": 1e-2}, ... },
 *   "sampler":   {"type": "sobol", "seed": 1},                 random | sobol | halton | grid (default sobol)
 *   "objective": {"type": "holdout", "fraction": 0.2, "seed": 0} or {"type": "kfold", "k": 3, "seed": 0},
 *   "metric": "accuracy",                                      accuracy (maximized) | loss (minimized)
 *   "max_trials": 16,
 *   "max_parallel_trials": 2,
 *   "threads_per_trial": 1,                                    k-fold: folds of one trial trained at once
 *   "early_stopping": {"type": "asha", "min_epochs": 1, "max_epochs": 9, "reduction_factor": 3},
 *   "retrain_best": true
 * }
 * </pre>
 * Without {@code early_stopping} every trial trains for the config's {@code /fit/epochs}. With it, trials
 * are trained rung by rung (epochs min, min*eta, min*eta^2, ... capped by and ending at max) and only the best
 * 1/eta of a rung go on: {@code asha} promotes asynchronously (a free slot never waits for a rung to fill),
 * {@code successive_halving} waits for each rung to complete (max_trials is the bracket size).
 */
public record TuneSpec(SearchSpace space, JsonNode samplerJson, Objective objective, String metric, int maxTrials,
                       int maxParallelTrials, int threadsPerTrial, Halving halving, boolean retrainBest, JsonNode json) {

    /** Holdout fraction or k folds, and the seed that cuts them. */
    public record Objective(String type, double fraction, int k, long seed) {
        public boolean isKFold() {
            return type.equals("kfold");
        }

        /** The models a trial trains: k for k-fold, 1 for a holdout. */
        public int folds() {
            return isKFold() ? k : 1;
        }

        public String describe() {
            return isKFold() ? k + "-fold cross-validation (seed " + seed + ")"
                    : "holdout of " + fraction + " (seed " + seed + ")";
        }
    }

    /**
     * Successive halving settings.
     *
     * @param asynchronous ASHA (true) or synchronous successive halving
     */
    public record Halving(boolean asynchronous, int minEpochs, int maxEpochs, int reductionFactor) {
        /** Epochs of each rung: min * eta^k below max, then max. */
        public int[] rungs() {
            List<Integer> r = new ArrayList<>();
            long e = minEpochs;
            while (e < maxEpochs) {
                r.add((int) e);
                e *= reductionFactor;
            }
            r.add(maxEpochs);
            return r.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    public static final int MAX_TRIALS = 10_000;
    /** Most epochs one trial trains over all its folds (each fold-epoch keeps its metrics in the trial's record). */
    public static final int MAX_FOLD_EPOCHS = 100_000;
    /**
     * Most fold-epochs a whole search may train, its trials together: the trial records (kept in the state store and
     * served by the job API) hold each one's metrics, so max_trials times the per-trial bound (10^9) was a way to
     * fill the store's disk from one job spec.
     */
    public static final long MAX_SEARCH_FOLD_EPOCHS = 1_000_000;

    public static TuneSpec parse(JsonNode n, ConfigAdapter base) {
        String p = "";
        Json.object(n, p);
        Json.allowOnly(n, p, Set.of("search_space", "sampler", "objective", "metric", "max_trials",
                "max_parallel_trials", "threads_per_trial", "early_stopping", "retrain_best"));
        JsonNode ss = n.get("search_space");
        if (ss == null) {
            throw new ConfigException("/search_space", "is required");
        }
        SearchSpace space = SearchSpace.parse(ss, "/search_space");
        Sampler sampler = Sampler.parse(n.get("sampler"), "/sampler", space); // validates
        Objective objective = parseObjective(n.get("objective"));
        String metric = Json.text(n, "metric", p, base == null ? "accuracy" : base.defaultMetric());
        if (!Set.of("accuracy", "loss").contains(metric)) {
            throw new ConfigException("/metric", "expected accuracy (maximized) or loss (minimized), got '" + metric + "'");
        }
        long dflt = sampler.size() == Long.MAX_VALUE ? 16 : Math.min(sampler.size(), MAX_TRIALS);
        int maxTrials = (int) Json.integer(n, "max_trials", p, dflt, 1, MAX_TRIALS);
        int parallel = (int) Json.integer(n, "max_parallel_trials", p, 1L, 1, 256);
        int threads = (int) Json.integer(n, "threads_per_trial", p, 1L, 1, 256);
        if (threads > 1 && !objective.isKFold()) {
            throw new ConfigException("/threads_per_trial", "a holdout trial trains one model on one thread; "
                    + "more threads per trial are used by k-fold objectives only");
        }
        Halving halving = parseHalving(n.get("early_stopping"));
        int trialEpochs = halving != null ? halving.maxEpochs() : base.epochs();
        long foldEpochs = (long) objective.folds() * trialEpochs;
        if (foldEpochs > MAX_FOLD_EPOCHS) {
            throw new ConfigException("/objective", "a trial would train " + foldEpochs + " fold-epochs ("
                    + (objective.isKFold() ? objective.k() + " folds x " : "") + trialEpochs + " epochs); at most "
                    + MAX_FOLD_EPOCHS + " (each keeps its metrics in the trial's record)");
        }
        if (halving != null && space.parameters().stream().anyMatch(TuneSpec::searchesEpochs)) {
            throw new ConfigException("/search_space", "/fit/epochs cannot be searched while early_stopping "
                    + "decides each trial's epochs");
        }
        long searchFoldEpochs = searchFoldEpochs(maxTrials, objective.folds(), halving,
                halving != null ? trialEpochs : mostEpochs(space, base.epochs()));
        if (searchFoldEpochs > MAX_SEARCH_FOLD_EPOCHS) {
            throw new ConfigException("/max_trials", "the search could train " + searchFoldEpochs + " fold-epochs ("
                    + maxTrials + " trials" + (objective.isKFold() ? " x " + objective.k() + " folds" : "")
                    + (halving != null ? " over the rungs " + java.util.Arrays.toString(halving.rungs())
                    : " x up to " + mostEpochs(space, base.epochs()) + " epochs") + "); at most "
                    + MAX_SEARCH_FOLD_EPOCHS + " a search (each keeps its metrics in its trial's record)");
        }
        return new TuneSpec(space, n.get("sampler"), objective, metric, maxTrials, parallel, threads, halving,
                Json.bool(n, "retrain_best", p, true), n.deepCopy());
    }

    /**
     * The most fold-epochs a search can train: every trial its most epochs, or with halving every rung's trials
     * (at most max_trials / eta^i reach rung i) the rung's epochs, as if each rung trained from scratch.
     */
    static long searchFoldEpochs(int maxTrials, int folds, Halving halving, long trialEpochs) {
        // in double: the factors come from a job spec and their product may pass Long.MAX_VALUE
        double total;
        if (halving == null) {
            total = (double) maxTrials * folds * trialEpochs;
        } else {
            total = 0;
            long reaching = maxTrials;
            for (int epochs : halving.rungs()) {
                total += (double) reaching * epochs * folds;
                reaching = Math.max(1, (reaching + halving.reductionFactor() - 1) / halving.reductionFactor());
            }
        }
        return (long) Math.min(total, (double) Long.MAX_VALUE);
    }

    private static final String EPOCHS = "/fit/epochs";

    /**
     * Whether {@code q} can set a trial's epochs: it is /fit/epochs, or replaces an object holding it ("/fit" or the
     * whole config, "") and one of its choices has epochs.
     */
    static boolean searchesEpochs(SearchSpace.Parameter q) {
        if (q.path().equals(EPOCHS)) {
            return true;
        }
        return EPOCHS.startsWith(q.path() + "/") && q.domain() instanceof Domain.Choice c
                && c.values().stream().anyMatch(v -> !v.at(EPOCHS.substring(q.path().length())).isMissingNode());
    }

    /**
     * The most epochs a trial may train: the config's, or the largest value a searched /fit/epochs can take (searched
     * itself, or inside the choices of a parameter that replaces /fit or the whole config).
     */
    static long mostEpochs(SearchSpace space, int configEpochs) {
        long most = configEpochs;
        for (SearchSpace.Parameter q : space.parameters()) {
            if (!searchesEpochs(q)) {
                continue;
            }
            if (!q.path().equals(EPOCHS)) {
                String inside = EPOCHS.substring(q.path().length());
                for (JsonNode v : ((Domain.Choice) q.domain()).values()) {
                    JsonNode e = v.at(inside);
                    if (e.isNumber()) {
                        most = Math.max(most, (long) Math.min(Long.MAX_VALUE / 4, Math.ceil(e.asDouble())));
                    }
                }
                continue;
            }
            Domain d = q.domain();
            if (d instanceof Domain.IntRange r) {
                most = Math.max(most, r.max());
            } else if (d instanceof Domain.Uniform u) {
                most = Math.max(most, (long) Math.min(Long.MAX_VALUE / 4, Math.ceil(u.max())));
            } else if (d instanceof Domain.LogUniform u) {
                most = Math.max(most, (long) Math.min(Long.MAX_VALUE / 4, Math.ceil(u.max())));
            } else if (d instanceof Domain.Choice c) {
                for (JsonNode v : c.values()) {
                    if (v.isNumber()) {
                        most = Math.max(most, (long) Math.min(Long.MAX_VALUE / 4, Math.ceil(v.asDouble())));
                    }
                }
            }
        }
        return most;
    }

    public Sampler sampler() {
        return Sampler.parse(samplerJson, "/sampler", space);
    }

    public boolean maximize() {
        return metric.equals("accuracy");
    }

    private static Objective parseObjective(JsonNode n) {
        String p = "/objective";
        if (n == null || n.isNull()) {
            return new Objective("holdout", 0.2, 0, 0);
        }
        Json.object(n, p);
        String type = Json.text(n, "type", p, null);
        long seed = Json.integer(n, "seed", p, 0L, Long.MIN_VALUE, Long.MAX_VALUE);
        return switch (type) {
            case "holdout" -> {
                Json.allowOnly(n, p, Set.of("type", "fraction", "seed"));
                double f = Json.number(n, "fraction", p, 0.2);
                if (!(f > 0 && f < 1)) {
                    throw new ConfigException(p + "/fraction", "must be in (0, 1), got " + f);
                }
                yield new Objective(type, f, 0, seed);
            }
            case "kfold" -> {
                Json.allowOnly(n, p, Set.of("type", "k", "seed"));
                yield new Objective(type, 0, (int) Json.integer(n, "k", p, 5L, 2, 100), seed);
            }
            default -> throw new ConfigException(p + "/type", "unknown objective '" + type + "': expected holdout or kfold");
        };
    }

    private static Halving parseHalving(JsonNode n) {
        String p = "/early_stopping";
        if (n == null || n.isNull()) {
            return null;
        }
        Json.object(n, p);
        Json.allowOnly(n, p, Set.of("type", "min_epochs", "max_epochs", "reduction_factor"));
        String type = Json.text(n, "type", p, null);
        if (type.equals("none")) {
            return null;
        }
        if (!type.equals("asha") && !type.equals("successive_halving")) {
            throw new ConfigException(p + "/type", "expected asha, successive_halving or none, got '" + type + "'");
        }
        int min = (int) Json.integer(n, "min_epochs", p, 1L, 1, 100_000);
        int max = (int) Json.integer(n, "max_epochs", p, null, 1, 100_000);
        int eta = (int) Json.integer(n, "reduction_factor", p, 3L, 2, 100);
        if (min > max) {
            throw new ConfigException(p, "min_epochs (" + min + ") exceeds max_epochs (" + max + ")");
        }
        return new Halving(type.equals("asha"), min, max, eta);
    }
}
