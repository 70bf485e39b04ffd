package io.dense4j.federated;

import io.dense4j.federated.protocol.TrainingPlan;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Settings of a federated task, config-first: {@link #toMap()} is what gets saved and {@link #fromMap} rebuilds it.
 * Built with {@link #builder()}; validated as a whole (e.g. secure aggregation and DP need a clip norm).
 *
 * @param rounds             rounds to run (aborted rounds count: each is a sampling and, with DP, a privacy cost)
 * @param clientsPerRound    expected clients per round: each enrolled client takes part with probability
 *                           q = clientsPerRound / enrolled, independently (Poisson sampling, as the DP analysis assumes)
 * @param minClients         fewest updates a round may aggregate; a round with fewer sampled or surviving clients aborts
 * @param localEpochs        E: local epochs per round, starting from the round's global weights
 * @param batchSize          default local batch size (a client may use its own)
 * @param proxMu             FedProx μ (0: FedAvg)
 * @param proxEverySteps     local steps between two proximal steps (1: every step; see {@link LocalTrainer})
 * @param secureAggregation  mask updates so that the server sees only their sum
 * @param secAggThreshold    Shamir threshold t = floor(fraction · n) + 1, fraction in [0.5, 1)
 * @param clipNorm           L2 clip S of every update (0: none; required for secure aggregation and DP)
 * @param noiseMultiplier    z: Gaussian noise of std z·S on the sum of updates (0: no differential privacy)
 * @param delta              δ of the reported (ε, δ)
 * @param epsilonBudget      refuse a round that would take ε above this (∞: no budget)
 * @param exampleWeightCap   without DP, an update weighs min(n_k, cap)/cap (FedAvg's n_k weighting when cap ≥ every n_k)
 * @param serverLearningRate global step: w ← w + η·(aggregated update)
 * @param aggregator         how a round's updates are combined: the weighted mean (FedAvg), or a robust statistic
 *                           that one client cannot drag anywhere (see {@link Aggregator})
 * @param trimFraction       {@link Aggregator#TRIMMED_MEAN}: the fraction β of updates dropped at each end of every
 *                           coordinate, in [0, 0.5)
 * @param maxUpdateNorm      an update whose L2 norm (of the client's model change, before weighting) is above this is
 *                           refused and left out of its round (0: no bound); bounds one client's pull on the global
 *                           model without clipping honest ones
 * @param phaseTimeout       deadline of a key-exchange or unmasking phase
 * @param trainingTimeout    deadline of the phase in which clients train
 * @param samplingSeed       seeds client sampling (reproducible simulations); null draws it from SecureRandom
 */
public record FederatedConfig(int rounds, int clientsPerRound, int minClients, int localEpochs, int batchSize,
                              double proxMu, int proxEverySteps, boolean secureAggregation, double secAggThreshold,
                              double clipNorm, double noiseMultiplier, double delta, double epsilonBudget,
                              long exampleWeightCap, double serverLearningRate, Aggregator aggregator,
                              double trimFraction, double maxUpdateNorm, Duration phaseTimeout,
                              Duration trainingTimeout, Long samplingSeed) {
    /**
     * How the server combines a round's updates. {@link #MEAN} is FedAvg's example-weighted mean: one client with
     * a huge (finite) update moves it anywhere. {@link #MEDIAN} (coordinate-wise median) and {@link #TRIMMED_MEAN}
     * (coordinate-wise mean of what is left after dropping the β·n largest and β·n smallest values) give every
     * update one vote whatever its example count, and a minority of clients cannot move them beyond the honest
     * updates' range (Yin et al., ICML 2018; Flower's FedMedian and FedTrimmedAvg). Both need each update in the
     * clear, so they exclude secure aggregation, and DP-FedAvg's noise is calibrated to a sum, so they exclude it too.
     */
    public enum Aggregator {
        MEAN, MEDIAN, TRIMMED_MEAN;

        /** The config's spelling: mean, median, trimmed_mean. */
        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        public static Aggregator of(String key) {
            for (Aggregator a : values()) {
                if (a.key().equals(key)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("aggregator is one of mean, median, trimmed_mean; got '" + key + "'");
        }
    }


    /** Longest a round phase or a client's local training may be given. */
    public static final java.time.Duration MAX_TIMEOUT = java.time.Duration.ofDays(7);

    public FederatedConfig {
        require(rounds >= 1, "rounds must be >= 1, got " + rounds);
        require(clientsPerRound >= 1, "clients per round must be >= 1, got " + clientsPerRound);
        require(minClients >= 1 && minClients <= clientsPerRound,
                "min clients must be in [1, clients per round = " + clientsPerRound + "], got " + minClients);
        require(localEpochs >= 1, "local epochs must be >= 1, got " + localEpochs);
        require(batchSize >= 1, "batch size must be >= 1, got " + batchSize);
        require(proxMu >= 0 && Double.isFinite(proxMu), "FedProx mu must be finite and >= 0, got " + proxMu);
        require(proxEverySteps >= 1, "proximal step interval must be >= 1, got " + proxEverySteps);
        require(secAggThreshold >= 0.5 && secAggThreshold < 1,
                "the secure-aggregation threshold fraction must be in [0.5, 1), got " + secAggThreshold);
        require(clipNorm >= 0 && Double.isFinite(clipNorm), "clip norm must be finite and >= 0, got " + clipNorm);
        require(noiseMultiplier >= 0 && Double.isFinite(noiseMultiplier), "noise multiplier must be >= 0, got " + noiseMultiplier);
        require(delta > 0 && delta < 1, "delta must be in (0, 1), got " + delta);
        require(epsilonBudget > 0, "the epsilon budget must be > 0 (infinite for none), got " + epsilonBudget);
        require(exampleWeightCap >= 1, "example weight cap must be >= 1, got " + exampleWeightCap);
        require(serverLearningRate > 0 && Double.isFinite(serverLearningRate), "server learning rate must be > 0");
        require(aggregator != null, "an aggregator is required (mean, median or trimmed_mean)");
        require(trimFraction >= 0 && trimFraction < 0.5, "the trim fraction must be in [0, 0.5), got " + trimFraction);
        require(maxUpdateNorm >= 0 && Double.isFinite(maxUpdateNorm),
                "max update norm must be finite and >= 0 (0: no bound), got " + maxUpdateNorm);
        if (aggregator != Aggregator.MEAN) {
            require(minClients >= CoordinateWise.MIN_UPDATES, "the " + aggregator.key() + " aggregator needs min clients >= "
                    + CoordinateWise.MIN_UPDATES + " (of two updates it is their mean, and one client moves it), got "
                    + minClients);
            require(!secureAggregation, "the " + aggregator.key() + " aggregator needs each update in the clear: it "
                    + "cannot run with secure aggregation (the server sees only the sum)");
            require(noiseMultiplier == 0, "the " + aggregator.key() + " aggregator cannot run with differential "
                    + "privacy (DP-FedAvg's noise is calibrated to the sum of clipped updates)");
        }
        if (maxUpdateNorm > 0) {
            require(!secureAggregation, "max update norm needs each update in the clear; with secure aggregation the "
                    + "clip norm bounds every update");
        }
        require(phaseTimeout != null && !phaseTimeout.isNegative() && !phaseTimeout.isZero(), "phase timeout must be > 0");
        require(trainingTimeout != null && !trainingTimeout.isNegative() && !trainingTimeout.isZero(),
                "training timeout must be > 0");
        // a round waits this long for a client that dropped: years would hold it open for ever
        require(phaseTimeout.compareTo(MAX_TIMEOUT) <= 0, "phase timeout must be at most 7 days, got " + phaseTimeout);
        require(trainingTimeout.compareTo(MAX_TIMEOUT) <= 0, "training timeout must be at most 7 days, got "
                + trainingTimeout);
        require(serverLearningRate <= 100, "server learning rate must be at most 100 (it multiplies the mean update), got "
                + serverLearningRate);
        if (secureAggregation) {
            require(clipNorm > 0, "secure aggregation needs a clip norm (updates are summed in fixed point)");
            require(minClients >= 2, "secure aggregation needs min clients >= 2 (a sum of one is the input)");
        }
        if (noiseMultiplier > 0) {
            require(clipNorm > 0, "differential privacy needs a clip norm (the noise is calibrated to it)");
        }
        if (Double.isFinite(epsilonBudget)) {
            require(noiseMultiplier > 0, "an epsilon budget needs noise (a noise multiplier > 0)");
        }
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    public boolean differentiallyPrivate() {
        return noiseMultiplier > 0;
    }

    /** The per-round instructions clients receive. */
    public TrainingPlan plan() {
        return new TrainingPlan(localEpochs, batchSize, proxMu, proxEverySteps, clipNorm, differentiallyPrivate(),
                exampleWeightCap, secureAggregation);
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.rounds = rounds;
        b.clientsPerRound = clientsPerRound;
        b.minClients = minClients;
        b.localEpochs = localEpochs;
        b.batchSize = batchSize;
        b.proxMu = proxMu;
        b.proxEverySteps = proxEverySteps;
        b.secureAggregation = secureAggregation;
        b.secAggThreshold = secAggThreshold;
        b.clipNorm = clipNorm;
        b.noiseMultiplier = noiseMultiplier;
        b.delta = delta;
        b.epsilonBudget = epsilonBudget;
        b.exampleWeightCap = exampleWeightCap;
        b.serverLearningRate = serverLearningRate;
        b.aggregator = aggregator;
        b.trimFraction = trimFraction;
        b.maxUpdateNorm = maxUpdateNorm;
        b.phaseTimeout = phaseTimeout;
        b.trainingTimeout = trainingTimeout;
        b.samplingSeed = samplingSeed;
        return b;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rounds", rounds);
        m.put("clients_per_round", clientsPerRound);
        m.put("min_clients", minClients);
        m.put("local_epochs", localEpochs);
        m.put("batch_size", batchSize);
        m.put("prox_mu", proxMu);
        m.put("prox_every_steps", proxEverySteps);
        m.put("secure_aggregation", secureAggregation);
        m.put("secagg_threshold", secAggThreshold);
        m.put("clip_norm", clipNorm);
        m.put("noise_multiplier", noiseMultiplier);
        m.put("delta", delta);
        m.put("epsilon_budget", Double.isInfinite(epsilonBudget) ? null : epsilonBudget);
        m.put("example_weight_cap", exampleWeightCap);
        m.put("server_learning_rate", serverLearningRate);
        m.put("aggregator", aggregator.key());
        m.put("trim_fraction", trimFraction);
        m.put("max_update_norm", maxUpdateNorm);
        m.put("phase_timeout_ms", phaseTimeout.toMillis());
        m.put("training_timeout_ms", trainingTimeout.toMillis());
        m.put("sampling_seed", samplingSeed);
        return m;
    }

    /** Rebuilds a config from {@link #toMap()}; absent keys take the defaults, unknown keys are refused. */
    public static FederatedConfig fromMap(Map<String, Object> m) {
        Builder b = builder();
        for (Map.Entry<String, Object> e : m.entrySet()) {
            Object v = e.getValue();
            switch (e.getKey()) {
                case "rounds" -> b.rounds(integer(e));
                case "clients_per_round" -> b.clientsPerRound(integer(e));
                case "min_clients" -> b.minClients(integer(e));
                case "local_epochs" -> b.localEpochs(integer(e));
                case "batch_size" -> b.batchSize(integer(e));
                case "prox_mu" -> b.proxMu(number(e));
                case "prox_every_steps" -> b.proxEverySteps(integer(e));
                case "secure_aggregation" -> b.secureAggregation(bool(e));
                case "secagg_threshold" -> b.secAggThreshold(number(e));
                case "clip_norm" -> b.clipNorm(number(e));
                case "noise_multiplier" -> b.noiseMultiplier(number(e));
                case "delta" -> b.delta(number(e));
                case "epsilon_budget" -> b.epsilonBudget(v == null ? Double.POSITIVE_INFINITY : number(e));
                case "example_weight_cap" -> b.exampleWeightCap(integer(e));
                case "server_learning_rate" -> b.serverLearningRate(number(e));
                case "aggregator" -> b.aggregator(Aggregator.of(text(e)));
                case "trim_fraction" -> b.trimFraction(number(e));
                case "max_update_norm" -> b.maxUpdateNorm(number(e));
                case "phase_timeout_ms" -> b.phaseTimeout(Duration.ofMillis(integer(e)));
                case "training_timeout_ms" -> b.trainingTimeout(Duration.ofMillis(integer(e)));
                case "sampling_seed" -> b.samplingSeed(v == null ? null : (long) integer(e));
                default -> throw new IllegalArgumentException("unknown federated config key '" + e.getKey() + "'");
            }
        }
        return b.build();
    }

    private static long integer(Map.Entry<String, Object> e) {
        if (e.getValue() instanceof Integer || e.getValue() instanceof Long) {
            return ((Number) e.getValue()).longValue();
        }
        throw new IllegalArgumentException("federated config '" + e.getKey() + "' must be an integer, got " + e.getValue());
    }

    private static double number(Map.Entry<String, Object> e) {
        if (e.getValue() instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalArgumentException("federated config '" + e.getKey() + "' must be a number, got " + e.getValue());
    }

    private static String text(Map.Entry<String, Object> e) {
        if (e.getValue() instanceof String t) {
            return t;
        }
        throw new IllegalArgumentException("federated config '" + e.getKey() + "' must be a string, got " + e.getValue());
    }

    private static boolean bool(Map.Entry<String, Object> e) {
        if (e.getValue() instanceof Boolean b) {
            return b;
        }
        throw new IllegalArgumentException("federated config '" + e.getKey() + "' must be true or false, got " + e.getValue());
    }

    /**
     * Defaults: 10 rounds, 10 clients per round (min 2), 1 local epoch at batch 32, FedAvg (the weighted mean, no
     * update bound), no SecAgg, no DP; the trimmed mean, when chosen, trims β = 0.2 (Flower's FedTrimmedAvg).
     */
    public static final class Builder {
        private int rounds = 10;
        private int clientsPerRound = 10;
        private int minClients = 2;
        private int localEpochs = 1;
        private int batchSize = 32;
        private double proxMu = 0;
        private int proxEverySteps = 1;
        private boolean secureAggregation = false;
        private double secAggThreshold = 0.5;
        private double clipNorm = 0;
        private double noiseMultiplier = 0;
        private double delta = 1e-5;
        private double epsilonBudget = Double.POSITIVE_INFINITY;
        private long exampleWeightCap = 10_000;
        private double serverLearningRate = 1.0;
        private Aggregator aggregator = Aggregator.MEAN;
        private double trimFraction = 0.2;
        private double maxUpdateNorm = 0;
        private Duration phaseTimeout = Duration.ofSeconds(60);
        private Duration trainingTimeout = Duration.ofMinutes(10);
        private Long samplingSeed = null;

        public Builder rounds(long v) { rounds = Math.toIntExact(v); return this; }
        public Builder clientsPerRound(long v) { clientsPerRound = Math.toIntExact(v); return this; }
        public Builder minClients(long v) { minClients = Math.toIntExact(v); return this; }
        public Builder localEpochs(long v) { localEpochs = Math.toIntExact(v); return this; }
        public Builder batchSize(long v) { batchSize = Math.toIntExact(v); return this; }
        public Builder proxMu(double v) { proxMu = v; return this; }
        public Builder proxEverySteps(long v) { proxEverySteps = Math.toIntExact(v); return this; }
        public Builder secureAggregation(boolean v) { secureAggregation = v; return this; }
        public Builder secAggThreshold(double v) { secAggThreshold = v; return this; }
        public Builder clipNorm(double v) { clipNorm = v; return this; }
        public Builder noiseMultiplier(double v) { noiseMultiplier = v; return this; }
        public Builder delta(double v) { delta = v; return this; }
        public Builder epsilonBudget(double v) { epsilonBudget = v; return this; }
        public Builder exampleWeightCap(long v) { exampleWeightCap = v; return this; }
        public Builder serverLearningRate(double v) { serverLearningRate = v; return this; }
        public Builder aggregator(Aggregator v) { aggregator = v; return this; }
        public Builder trimFraction(double v) { trimFraction = v; return this; }
        public Builder maxUpdateNorm(double v) { maxUpdateNorm = v; return this; }
        public Builder phaseTimeout(Duration v) { phaseTimeout = v; return this; }
        public Builder trainingTimeout(Duration v) { trainingTimeout = v; return this; }
        public Builder samplingSeed(Long v) { samplingSeed = v; return this; }

        public FederatedConfig build() {
            return new FederatedConfig(rounds, clientsPerRound, minClients, localEpochs, batchSize, proxMu, proxEverySteps,
                    secureAggregation, secAggThreshold, clipNorm, noiseMultiplier, delta, epsilonBudget, exampleWeightCap,
                    serverLearningRate, aggregator, trimFraction, maxUpdateNorm, phaseTimeout, trainingTimeout,
                    samplingSeed);
        }
    }
}
