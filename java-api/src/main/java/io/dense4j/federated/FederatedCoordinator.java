package io.dense4j.federated;

import io.dense4j.federated.privacy.RdpAccountant;
import io.dense4j.federated.protocol.Limits;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.Message.ClientMessage;
import io.dense4j.federated.protocol.Message.Envelope;
import io.dense4j.federated.protocol.Message.ServerMessage;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ProtocolException.Code;
import io.dense4j.federated.protocol.TrainingPlan;
import io.dense4j.federated.secagg.Quantizer;
import io.dense4j.federated.secagg.SecAggServer;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The server side of one federated task: rounds of Federated Averaging over enrolled clients, with optional secure
 * aggregation and client-level differential privacy. Transport-agnostic: {@link #handle(String, byte[])} takes one
 * encoded client message from an authenticated client and returns the encoded answer (the HTTP layer is a thin
 * binding of it), and {@link #tick()} applies phase deadlines.
 *
 * <p><b>A round.</b> Every enrolled client is sampled independently with probability q = clientsPerRound / enrolled;
 * fewer than minClients sampled aborts the round. Sampled clients poll and receive the global weights and the
 * {@link TrainingPlan}; without secure aggregation they upload their update vector ({@link LocalTrainer#uploadVector})
 * and the round closes when all have or at the deadline. With secure aggregation the round runs the four phases of
 * {@link SecAggServer} and the server only ever holds the masked running sum. The server then divides the summed
 * update by the summed weight (FedAvg) or, with DP, adds N(0, (z·S)²) noise to the sum and divides by the expected
 * number of clients q·K (DP-FedAvg's fixed denominator), or takes the coordinate-wise median or trimmed mean of the
 * updates it kept ({@link FederatedConfig.Aggregator}), and steps the global model, in float64 until the new weights
 * are rounded to float32: a round whose result is not finite is aborted and leaves the model as it was. An update
 * above {@link FederatedConfig#maxUpdateNorm()} is refused and its client left out of the round.
 *
 * <p><b>Differential privacy.</b> The noise is added here, on the unmasked sum, so the guarantee protects clients
 * from everyone who sees the models (other clients, model consumers), not from this server, which sees the exact
 * sum of each round (and no individual update when secure aggregation is on). Every round that sampled clients is
 * charged to the RDP accountant, aborted ones included; a round that would take ε above the budget is refused and
 * the task finishes.
 *
 * <p>Thread-safe (one lock); {@link RoundListener}s run under it, after each round.
 */
public final class FederatedCoordinator {
    private static final System.Logger LOG = System.getLogger("io.dense4j.federated");
    private static final long POLL_HINT_MILLIS = 500;

    /** Called after every round (completed or aborted) with the global weights after it. */
    public interface RoundListener {
        void roundFinished(RoundSummary summary, float[] globalWeights);
    }

    private final String taskId;
    private final FederatedConfig config;
    private final TrainingPlan plan;
    private final Map<String, Object> modelConfig;
    private final TreeSet<String> enrolled;
    private final double samplingRate;
    private final SecureRandom random;
    private SplittableRandom sampler;
    private final Clock clock;
    private final RdpAccountant accountant;
    private final Limits limits;
    private final int parameterCount;
    private final int vectorLength;
    private final List<RoundSummary> history = new ArrayList<>();
    private final List<RoundListener> listeners = new CopyOnWriteArrayList<>();
    private float[] weights;
    private long round;
    private Round current;
    private String finishedReason;
    private boolean started;

    /** One round's server state. */
    private final class Round {
        final long number;
        final byte[] nonce = new byte[16];
        final Set<String> selected;
        final long startNanos = System.nanoTime();
        Instant deadline;
        final SecAggServer secAgg;
        double[] plainSum;
        /** The robust aggregators' updates in the clear, and their weights (the mean keeps only the sum). */
        final List<float[]> updates = new ArrayList<>();
        final List<Double> updateWeights = new ArrayList<>();
        final Set<String> uploaded = new HashSet<>();
        /** Clients whose update was refused (above the update norm bound): the round does not wait for them. */
        final Set<String> refused = new HashSet<>();
        final Map<String, byte[]> acceptedIds = new HashMap<>();
        final Map<String, long[]> bytes = new HashMap<>();
        /** Under secure aggregation, how far the dequantized sum may be from the inputs' sum, per coordinate. */
        double quantizationError;

        Round(long number, Set<String> selected) {
            this.number = number;
            this.selected = Set.copyOf(selected);
            random.nextBytes(nonce);
            secAgg = config.secureAggregation()
                    ? new SecAggServer(taskId, number, nonce, selected, config.minClients(), config.secAggThreshold(),
                            vectorLength)
                    : null;
            plainSum = secAgg == null ? new double[vectorLength] : null;
            deadline = clock.instant().plus(secAgg == null ? config.trainingTimeout() : config.phaseTimeout());
        }
    }

    /**
     * @param modelConfig    the model's config ({@code Sequential.config()}, with loss and optimizer: the clients'
     *                       local optimizer)
     * @param initialWeights the global weights of round 1
     * @param clients        the enrolled clients (their ids are what the transport authenticates)
     */
    public FederatedCoordinator(String taskId, FederatedConfig config, Map<String, Object> modelConfig,
                                float[] initialWeights, Collection<String> clients, SecureRandom random, Clock clock) {
        if (clients.isEmpty()) {
            throw new IllegalArgumentException("a federated task needs enrolled clients");
        }
        for (float w : initialWeights) {
            if (!Float.isFinite(w)) {
                throw new IllegalArgumentException("initial weights must be finite");
            }
        }
        this.taskId = taskId;
        this.config = config;
        this.plan = config.plan();
        this.modelConfig = Map.copyOf(modelConfig);
        this.enrolled = new TreeSet<>(clients);
        this.samplingRate = Math.min(1.0, config.clientsPerRound() / (double) enrolled.size());
        this.random = random;
        this.sampler = new SplittableRandom(config.samplingSeed() != null ? config.samplingSeed() : random.nextLong());
        this.clock = clock;
        this.accountant = config.differentiallyPrivate() ? new RdpAccountant() : null;
        this.weights = initialWeights.clone();
        this.parameterCount = initialWeights.length;
        this.vectorLength = plan.vectorLength(parameterCount);
        this.limits = Limits.forTask(vectorLength, enrolled.size(), MessageCodec.jsonBytes(modelConfig));
    }

    /**
     * A coordinator for a task that already ran {@code roundsRun} rounds before its server stopped (a restart): the
     * global weights after them, their summaries, and the privacy accountant charged for every one of them, as
     * {@link #start()} would have left it. The round that was in flight when the server stopped is lost (its keys,
     * masked inputs and shares lived in this process only, and are not recoverable by design): it is recorded as
     * aborted with {@code lostRoundReason} and charged to the accountant (its clients were sampled and may have
     * trained and answered), unless the task would not have started another round (all rounds ran, or the budget
     * would have refused it). {@link #start()} then starts the next round with a new number, nonce and cohort, so
     * nothing sent for the lost round is accepted. A seeded sampler continues from a seed mixed with the round
     * number rather than replaying round 1's cohorts.
     */
    public static FederatedCoordinator resume(String taskId, FederatedConfig config, Map<String, Object> modelConfig,
                                              float[] weights, Collection<String> clients, long roundsRun,
                                              List<RoundSummary> history, String lostRoundReason, SecureRandom random,
                                              Clock clock) {
        if (roundsRun < 0 || roundsRun > config.rounds()) {
            throw new IllegalArgumentException("rounds run must be in [0, " + config.rounds() + "], got " + roundsRun);
        }
        FederatedCoordinator c = new FederatedCoordinator(taskId, config, modelConfig, weights, clients, random, clock);
        c.round = roundsRun;
        c.history.addAll(history);
        if (c.accountant != null) {
            c.accountant.composePoissonSampledGaussian(c.samplingRate, config.noiseMultiplier(), roundsRun);
        }
        if (config.samplingSeed() != null) {
            c.sampler = new SplittableRandom(config.samplingSeed() ^ (roundsRun * 0x9E3779B97F4A7C15L));
        }
        if (c.wouldStartAnotherRound() == null) {
            c.round++;
            c.charge();
            RoundSummary lost = new RoundSummary(c.round, "ABORTED", lostRoundReason, 0, 0, new int[0],
                    c.epsilonNow(), config.delta(), Double.NaN, 0, 0, 0, 0, 0);
            c.history.add(lost);
            LOG.log(System.Logger.Level.INFO, "federated task {0} resumed after round {1}; round {2} was lost: {3}",
                    taskId, roundsRun, c.round, lostRoundReason);
        }
        return c;
    }

    public void addListener(RoundListener l) {
        listeners.add(l);
    }

    /** Starts round 1. */
    public synchronized void start() {
        if (started) {
            throw new IllegalStateException("task " + taskId + " already started");
        }
        started = true;
        LOG.log(System.Logger.Level.INFO, "federated task {0}: {1} enrolled clients, sampling rate {2}, {3}", taskId,
                enrolled.size(), samplingRate, config.toMap());
        startNextRound();
    }

    // ------------------------------------------------------------------------------------------ messages

    /**
     * One encoded message from the authenticated client {@code clientId}; returns the encoded answer.
     *
     * @throws ProtocolException when the message is refused (nothing changed)
     */
    public byte[] handle(String clientId, byte[] frame) {
        Message m = MessageCodec.decode(frame, limits);
        if (!(m instanceof ClientMessage c)) {
            throw new ProtocolException(Code.BAD_MESSAGE, "a '" + m.type() + "' message goes from server to client");
        }
        synchronized (this) {
            ServerMessage r = process(clientId, c);
            byte[] out = MessageCodec.encode(r);
            countBytes(clientId, r.round(), frame.length, out.length);
            advance();
            return out;
        }
    }

    /** The same as {@link #handle(String, byte[])} on decoded messages (no byte accounting). */
    public synchronized ServerMessage handle(String clientId, ClientMessage m) {
        ServerMessage r = process(clientId, m);
        advance();
        return r;
    }

    /** Bytes of an exchange about the current round, counted for its selected clients (before the round can close). */
    private void countBytes(String client, long roundOfAnswer, long up, long down) {
        Round r = current;
        if (r != null && r.number == roundOfAnswer && r.selected.contains(client)) {
            long[] b = r.bytes.computeIfAbsent(client, k -> new long[2]);
            b[0] += up;
            b[1] += down;
        }
    }

    private ServerMessage process(String client, ClientMessage m) {
        if (!started) {
            throw new ProtocolException(Code.WRONG_STATE, "task " + taskId + " has not started");
        }
        if (!enrolled.contains(client)) {
            throw new ProtocolException(Code.FORBIDDEN, "client " + client + " is not enrolled in task " + taskId);
        }
        Envelope e = m.envelope();
        if (!taskId.equals(e.task())) {
            throw new ProtocolException(Code.NOT_FOUND, "message for task " + e.task() + ", this is task " + taskId);
        }
        if (!client.equals(e.client())) {
            throw new ProtocolException(Code.FORBIDDEN, "message names client " + e.client() + " but comes from " + client);
        }
        tick();
        if (m instanceof Message.Poll) {
            return instruction(client);
        }
        Round r = current;
        if (r == null) {
            throw new ProtocolException(Code.WRONG_STATE, "task " + taskId + " is finished: " + finishedReason);
        }
        if (e.round() != r.number) {
            throw new ProtocolException(Code.WRONG_STATE, "message for round " + e.round() + ", the current round is "
                    + r.number);
        }
        if (!MessageDigest.isEqual(e.roundNonce(), r.nonce)) {
            throw new ProtocolException(Code.FORBIDDEN, "the round nonce does not match round " + r.number);
        }
        if (!r.selected.contains(client)) {
            throw new ProtocolException(Code.FORBIDDEN, "client " + client + " was not selected for round " + r.number);
        }
        String slot = client + "/" + m.type();
        byte[] previous = r.acceptedIds.get(slot);
        if (previous != null) {
            if (MessageDigest.isEqual(previous, e.messageId())) {
                return new Message.Accepted(taskId, r.number, m.type()); // a retry of a delivered message
            }
            throw new ProtocolException(Code.DUPLICATE, "client " + client + " already sent its " + m.type()
                    + " for round " + r.number);
        }
        if (m instanceof Message.Update u) {
            acceptUpdate(r, client, u);
        } else {
            if (r.secAgg == null) {
                throw new ProtocolException(Code.BAD_MESSAGE, "task " + taskId + " does not use secure aggregation: "
                        + "send a plain update, not " + m.type());
            }
            if (m instanceof Message.AdvertiseKeys a) {
                r.secAgg.accept(client, a);
            } else if (m instanceof Message.ShareKeys s) {
                r.secAgg.accept(client, s);
            } else if (m instanceof Message.MaskedInput mi) {
                r.secAgg.accept(client, mi);
            } else if (m instanceof Message.Unmasking u) {
                r.secAgg.accept(client, u);
            }
        }
        r.acceptedIds.put(slot, e.messageId().clone());
        return new Message.Accepted(taskId, r.number, m.type());
    }

    private void acceptUpdate(Round r, String client, Message.Update u) {
        if (r.secAgg != null) {
            throw new ProtocolException(Code.BAD_MESSAGE, "task " + taskId + " uses secure aggregation: plain updates "
                    + "are refused (they would reveal the client's update)");
        }
        if (r.refused.contains(client)) {
            throw new ProtocolException(Code.DUPLICATE, "client " + client + "'s update of round " + r.number
                    + " was refused already");
        }
        float[] v = u.vector();
        if (v.length != vectorLength) {
            throw new ProtocolException(Code.BAD_MESSAGE, "update of " + v.length + " values, the task expects "
                    + vectorLength);
        }
        double norm = 0;
        for (int i = 0; i < parameterCount; i++) {
            if (!Float.isFinite(v[i])) {
                throw new ProtocolException(Code.BAD_MESSAGE, "update value " + i + " is " + v[i]);
            }
            norm += (double) v[i] * v[i];
        }
        norm = Math.sqrt(norm);
        if (plan.clipNorm() > 0 && norm > plan.clipNorm() * (1 + 1e-5)) {
            throw new ProtocolException(Code.BAD_MESSAGE, "update norm " + norm + " exceeds the clip norm " + plan.clipNorm());
        }
        if (!plan.uniformWeights() && !(v[parameterCount] > 0 && v[parameterCount] <= 1)) {
            throw new ProtocolException(Code.BAD_MESSAGE, "update weight " + v[parameterCount] + " is outside (0, 1]");
        }
        double weight = plan.uniformWeights() ? 1 : v[parameterCount];
        double changeNorm = norm / weight; // the client's own model change: the vector carries it times its weight
        if (config.maxUpdateNorm() > 0 && changeNorm > config.maxUpdateNorm()) {
            r.refused.add(client); // the round does not wait for it; the refusal is final for this round
            LOG.log(System.Logger.Level.WARNING, "federated task {0} round {1}: refused client {2}''s update of norm "
                    + "{3} (max update norm {4})", taskId, r.number, client, changeNorm, config.maxUpdateNorm());
            throw new ProtocolException(Code.BAD_MESSAGE, "update norm " + changeNorm + " is above this task's max "
                    + "update norm " + config.maxUpdateNorm() + ": the update is left out of round " + r.number);
        }
        if (config.aggregator() == FederatedConfig.Aggregator.MEAN) {
            for (int i = 0; i < v.length; i++) {
                r.plainSum[i] += v[i];
            }
        } else {
            r.updates.add(v.clone());
            r.updateWeights.add(weight);
        }
        r.uploaded.add(client);
    }

    private ServerMessage instruction(String client) {
        Round r = current;
        if (r == null) {
            return new Message.Finished(taskId, round, finishedReason);
        }
        if (!r.selected.contains(client)) {
            return new Message.NotSelected(taskId, r.number, POLL_HINT_MILLIS);
        }
        if (r.secAgg == null) {
            if (r.refused.contains(client)) {
                return new Message.RoundOver(taskId, r.number, "EXCLUDED", "client " + client + "'s update of round "
                        + r.number + " was refused (above the max update norm)");
            }
            if (r.uploaded.contains(client)) {
                return new Message.Wait(taskId, r.number, "waiting for the other clients of round " + r.number,
                        POLL_HINT_MILLIS);
            }
            return roundTask(r);
        }
        SecAggServer s = r.secAgg;
        if (s.awaits(client)) {
            return switch (s.phase()) {
                case ADVERTISE_KEYS -> roundTask(r);
                case SHARE_KEYS -> s.peerKeys();
                case MASKED_INPUT -> s.sharesFor(client);
                case UNMASKING -> s.unmaskingRequest(client);
                default -> throw new IllegalStateException("secure aggregation awaits a client in phase " + s.phase());
            };
        }
        if (s.involves(client)) {
            return new Message.Wait(taskId, r.number, "waiting for the other clients (" + s.phase() + ")", POLL_HINT_MILLIS);
        }
        return new Message.RoundOver(taskId, r.number, "EXCLUDED", "client " + client + " missed a phase of round "
                + r.number + " (now " + s.phase() + ")");
    }

    private Message.RoundTask roundTask(Round r) {
        return new Message.RoundTask(taskId, r.number, r.nonce.clone(), modelConfig, plan, weights.clone());
    }

    // ------------------------------------------------------------------------------------------ phases and rounds

    /** Applies the current phase's deadline. */
    public synchronized void tick() {
        if (current != null && !clock.instant().isBefore(current.deadline)) {
            closePhase();
        }
    }

    /** Closes the current phase now, as its deadline would (clients that have not answered are dropped). */
    public synchronized void closePhase() {
        Round r = current;
        if (r == null) {
            return;
        }
        if (r.secAgg == null) {
            finishRound(r, r.plainSum, r.uploaded.size());
            return;
        }
        SecAggServer.Phase p = r.secAgg.closePhase();
        if (p == SecAggServer.Phase.COMPLETED) {
            double scale = Quantizer.scale(plan.coordinateBound(), r.secAgg.setSizes()[0]);
            r.quantizationError = r.secAgg.summed() / scale; // per coordinate of the sum: each input errs by < 1/scale
            finishRound(r, Quantizer.dequantize(r.secAgg.result(), scale), r.secAgg.summed());
        } else if (p == SecAggServer.Phase.ABORTED) {
            abortRound(r, r.secAgg.abortReason());
        } else {
            Duration d = p == SecAggServer.Phase.MASKED_INPUT ? config.trainingTimeout() : config.phaseTimeout();
            r.deadline = clock.instant().plus(d);
        }
    }

    /** Closes phases whose every expected client has answered. */
    private void advance() {
        while (current != null) {
            Round r = current;
            boolean complete = r.secAgg == null ? r.uploaded.size() + r.refused.size() == r.selected.size()
                    : r.secAgg.phaseComplete();
            if (!complete) {
                return;
            }
            closePhase();
        }
    }

    private void finishRound(Round r, double[] sum, int participants) {
        if (participants < config.minClients()) {
            abortRound(r, participants + " updates arrived, min clients is " + config.minClients());
            return;
        }
        double[] mean = new double[parameterCount];
        if (config.aggregator() != FederatedConfig.Aggregator.MEAN) {
            double[] w = r.updateWeights.stream().mapToDouble(Double::doubleValue).toArray();
            mean = CoordinateWise.aggregate(config.aggregator(), config.trimFraction(), r.updates, w, parameterCount);
        } else if (config.differentiallyPrivate()) {
            double std = config.noiseMultiplier() * config.clipNorm();
            double expected = samplingRate * enrolled.size();
            for (int i = 0; i < parameterCount; i++) {
                mean[i] = (sum[i] + std * random.nextGaussian()) / expected;
            }
        } else {
            double weight = sum[parameterCount];
            // each honest client weighs min(n_k, cap)/cap: at least 1/cap, at most 1 (plain updates are checked one
            // by one when they arrive; masked ones only here, in their sum)
            double least = participants / (double) plan.exampleWeightCap() - r.quantizationError;
            double most = participants + r.quantizationError;
            if (!(weight > 0) || (r.secAgg != null && (weight < least || weight > most))) {
                abortRound(r, "the summed weight is " + weight + ", outside [" + participants + "/"
                        + plan.exampleWeightCap() + ", " + participants + "] for " + participants
                        + " clients (each weighs between 1/example_weight_cap and 1)");
                return;
            }
            double meanNorm = 0;
            for (int i = 0; i < parameterCount; i++) {
                mean[i] = sum[i] / weight;
                meanNorm += mean[i] * mean[i];
            }
            // Masked inputs cannot be checked one by one, and a client could put a negative weight in its masked
            // input to cancel the others' (the summed weight near 0 made the step 10^7 times the update). The
            // weighted mean of updates clipped to S is itself within S (triangle inequality): a mean above it
            // (and the sum's quantization error) comes from an input no honest client sends.
            double allowed = plan.clipNorm() * (1 + 1e-6)
                    + Math.sqrt(parameterCount) * r.quantizationError / weight;
            if (r.secAgg != null && plan.clipNorm() > 0 && Math.sqrt(meanNorm) > allowed) {
                abortRound(r, String.format(java.util.Locale.ROOT, "the securely aggregated mean update has norm %.6g, "
                        + "above the clip norm %.6g that every honest update keeps: a client's masked input is not "
                        + "a clipped update (the round is not applied)", Math.sqrt(meanNorm), plan.clipNorm()));
                return;
            }
        }
        // in float64 up to the new weights; a result a float cannot hold is not applied (the model stays as it was)
        float[] next = weights.clone();
        double norm = 0;
        for (int i = 0; i < parameterCount; i++) {
            double step = config.serverLearningRate() * mean[i];
            next[i] = (float) (next[i] + step);
            norm += step * step;
            if (!Float.isFinite(next[i])) {
                abortRound(r, "the aggregated model is not finite at parameter " + i + " (" + next[i]
                        + "): the round is not applied and the global model stays as it was; bound each client's "
                        + "influence with max_update_norm, clip_norm or a robust aggregator");
                return;
            }
        }
        if (!Double.isFinite(norm)) {
            abortRound(r, "the aggregated update's norm is not finite: the round is not applied and the global model "
                    + "stays as it was; bound each client's influence with max_update_norm, clip_norm or a robust "
                    + "aggregator");
            return;
        }
        weights = next;
        endRound(r, "COMPLETED", "", participants, Math.sqrt(norm));
    }

    private void abortRound(Round r, String reason) {
        endRound(r, "ABORTED", reason, 0, Double.NaN);
    }

    /** Charges one round to the accountant (no-op without DP). */
    private void charge() {
        if (accountant != null) {
            accountant.composePoissonSampledGaussian(samplingRate, config.noiseMultiplier(), 1);
        }
    }

    private double epsilonNow() {
        return accountant == null ? Double.NaN : accountant.epsilon(config.delta()).epsilon();
    }

    private void endRound(Round r, String status, String reason, int participants, double updateNorm) {
        charge();
        double eps = epsilonNow();
        long up = 0;
        long down = 0;
        for (long[] b : r.bytes.values()) {
            up += b[0];
            down += b[1];
        }
        RoundSummary s = new RoundSummary(r.number, status, reason, r.selected.size(), participants,
                r.secAgg == null ? new int[0] : r.secAgg.setSizes(), eps, config.delta(), updateNorm,
                (System.nanoTime() - r.startNanos) / 1e9, up, down, r.bytes.size(), r.refused.size());
        history.add(s);
        LOG.log(System.Logger.Level.INFO, "federated task {0} round {1} {2}{3}: {4} of {5} selected clients aggregated, "
                + "epsilon {6}, {7} s", taskId, r.number, status, reason.isEmpty() ? "" : " (" + reason + ")", participants,
                r.selected.size(), eps, s.seconds());
        current = null;
        float[] w = weights.clone();
        for (RoundListener l : listeners) {
            l.roundFinished(s, w);
        }
        startNextRound();
    }

    /** Samples the next round, aborting rounds with too few sampled clients, until one starts or the task ends. */
    private void startNextRound() {
        while (current == null && finishedReason == null) {
            String stop = wouldStartAnotherRound();
            if (stop != null) {
                finish(stop);
                return;
            }
            round++;
            Set<String> selected = new TreeSet<>();
            for (String c : enrolled) { // sorted: a seeded sampler gives the same cohorts
                if (sampler.nextDouble() < samplingRate) {
                    selected.add(c);
                }
            }
            Round r = new Round(round, selected);
            current = r;
            if (selected.size() < config.minClients()) {
                abortRound(r, "sampled " + selected.size() + " clients, min clients is " + config.minClients());
            } else {
                LOG.log(System.Logger.Level.DEBUG, "federated task {0} round {1}: {2} clients selected", taskId, round,
                        selected.size());
            }
        }
    }

    /** Null when another round may start; otherwise why the task ends instead. */
    private String wouldStartAnotherRound() {
        if (round >= config.rounds()) {
            return "all " + config.rounds() + " rounds ran";
        }
        if (accountant != null && Double.isFinite(config.epsilonBudget())) {
            double next = accountant.copy().composePoissonSampledGaussian(samplingRate, config.noiseMultiplier(), 1)
                    .epsilon(config.delta()).epsilon();
            if (next > config.epsilonBudget()) {
                return String.format("privacy budget: another round would reach epsilon %.4g > budget %.4g at delta %.2g",
                        next, config.epsilonBudget(), config.delta());
            }
        }
        return null;
    }

    private void finish(String reason) {
        finishedReason = reason;
        current = null;
        LOG.log(System.Logger.Level.INFO, "federated task {0} finished after round {1}: {2}", taskId, round, reason);
    }

    /** Stops the task (an admin's cancel); the current round is dropped. */
    public synchronized void stop(String reason) {
        if (finishedReason == null) {
            finish("stopped: " + reason);
        }
    }

    // ------------------------------------------------------------------------------------------ state

    public String taskId() {
        return taskId;
    }

    public FederatedConfig config() {
        return config;
    }

    /** The enrolled clients (fixed for the task: the privacy accounting assumes a fixed population). */
    public Set<String> enrolled() {
        return java.util.Collections.unmodifiableSet(enrolled);
    }

    public double samplingRate() {
        return samplingRate;
    }

    public synchronized long round() {
        return round;
    }

    public synchronized float[] weights() {
        return weights.clone();
    }

    public synchronized List<RoundSummary> history() {
        return List.copyOf(history);
    }

    public synchronized boolean finished() {
        return finishedReason != null;
    }

    public synchronized String finishedReason() {
        return finishedReason;
    }

    /** ε spent so far at the configured δ (NaN without DP). */
    public synchronized double epsilon() {
        return epsilonNow();
    }

    /** "round 3: MASKED_INPUT" and the like. */
    public synchronized String phase() {
        Round r = current;
        if (r == null) {
            return finishedReason == null ? "not started" : "finished: " + finishedReason;
        }
        return "round " + r.number + ": " + (r.secAgg == null ? "TRAINING" : r.secAgg.phase().name());
    }

    /** Clients selected for the current round (empty when none runs). */
    public synchronized Set<String> selected() {
        return current == null ? Set.of() : current.selected;
    }

    /** The largest request an HTTP binding should read (checked against Content-Length before reading). */
    public long maxRequestBytes() {
        return limits.maxFrameBytes();
    }

    public Limits limits() {
        return limits;
    }

    /**
     * Everything the coordinator holds, as plain data (what would be persisted or inspected): config, global
     * weights, history, accountant, and the current round's state. With secure aggregation that state is the
     * SecAgg server's (public keys, routed ciphertexts, masked running sum, shares), never an individual update.
     */
    public synchronized Map<String, Object> snapshot() {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("task", taskId);
        s.put("config", config.toMap());
        s.put("model_config", modelConfig);
        s.put("round", round);
        s.put("weights", weights.clone());
        List<Map<String, Object>> h = new ArrayList<>();
        for (RoundSummary r : history) {
            h.add(r.toMap());
        }
        s.put("history", h);
        s.put("rdp", accountant == null ? null : accountant.rdp());
        s.put("finished", finishedReason);
        Round r = current;
        if (r != null) {
            Map<String, Object> cr = new LinkedHashMap<>();
            cr.put("number", r.number);
            cr.put("selected", new TreeSet<>(r.selected));
            cr.put("deadline", r.deadline.toString());
            cr.put("uploaded", new TreeSet<>(r.uploaded));
            cr.put("plain_sum", r.plainSum == null ? null : r.plainSum.clone());
            cr.put("updates_held", r.updates.size());
            cr.put("refused", new TreeSet<>(r.refused));
            cr.put("secure_aggregation", r.secAgg == null ? null : r.secAgg.snapshot());
            s.put("current_round", cr);
        }
        return s;
    }
}
