package io.dense4j.federated;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.Message.ClientMessage;
import io.dense4j.federated.protocol.Message.Envelope;
import io.dense4j.federated.protocol.Message.ServerMessage;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ProtocolException.Code;
import io.dense4j.federated.protocol.ServerConnection;
import io.dense4j.federated.protocol.TrainingPlan;
import io.dense4j.federated.secagg.Quantizer;
import io.dense4j.federated.secagg.SecAggClient;
import io.dense4j.model.ModelConfig;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A party of a federated task, for applications: it holds the party's data (which never leaves it), polls the
 * server, trains locally when selected and sends only its update vector, masked when the task uses secure
 * aggregation.
 *
 * <pre>{@code
 * try (var client = FederatedClient.builder("task-42", "hospital-a", myData, connection).build()) {
 *     client.run(Duration.ofSeconds(5));          // until the task finishes
 * }
 * }</pre>
 *
 * {@link #step()} does one exchange (a poll, then at most one submission) for callers that drive their own loop.
 * The client builds its model from the config the server sends (layers, loss and the local optimizer) and checks it
 * fits its data. Not thread-safe; the data set stays the caller's.
 */
public final class FederatedClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("io.dense4j.federated");

    /** What one {@link #step()} did. */
    public enum Step {
        /** Selected, but the current phase waits for other clients. */
        WAITING,
        /** Not sampled for the current round. */
        NOT_SELECTED,
        /** Trained and uploaded a plain update. */
        UPDATE_SENT,
        /** Secure aggregation: sent its public keys. */
        KEYS_ADVERTISED,
        /** Secure aggregation: sent its encrypted shares. */
        KEYS_SHARED,
        /** Secure aggregation: trained and sent its masked update. */
        INPUT_SENT,
        /** Secure aggregation: sent its unmasking shares; its part of the round is done. */
        UNMASKED,
        /** The round ended without this client (or aborted). */
        ROUND_OVER,
        /** The round's plan breaks this client's policy (e.g. no secure aggregation): it sits the round out. */
        DECLINED,
        /** The task is over. */
        FINISHED
    }

    private final String task;
    private final String clientId;
    private final Dataset data;
    private final ServerConnection server;
    private final Integer batchSize;
    private final long seed;
    private final SecureRandom random;
    private final int minSecAggCohort;
    private final boolean requireSecureAggregation;
    private final StepListener listener;

    private Sequential model;
    private Map<String, Object> modelConfig;
    private long round = -1;
    private byte[] roundNonce = new byte[0];
    private TrainingPlan plan;
    private float[] global;
    private SecAggClient secAgg;
    private float[] upload;
    private long declinedRound = -1;
    private LocalTrainer.Result lastTraining;
    private Step lastStep;
    private long retryAfterMillis = 500;
    private String finishedReason;
    private int roundsContributed;

    private java.util.function.UnaryOperator<float[]> uploadTamper; // attack tests only

    private FederatedClient(Builder b) {
        this.task = b.task;
        this.clientId = b.clientId;
        this.data = b.data;
        this.server = b.server;
        this.batchSize = b.batchSize;
        this.seed = b.seed;
        this.random = b.random;
        this.minSecAggCohort = b.minSecAggCohort;
        this.requireSecureAggregation = b.requireSecureAggregation;
        this.listener = b.listener;
    }

    /** Sees every step {@link #run} takes (progress display, metrics); runs on the polling thread. */
    @FunctionalInterface
    public interface StepListener {
        /** @param refused the refusal that ended this client's part of the round, or null */
        void stepped(FederatedClient client, Step step, ProtocolException refused);
    }

    public static Builder builder(String task, String clientId, Dataset data, ServerConnection server) {
        return new Builder(task, clientId, data, server);
    }

    // ------------------------------------------------------------------------------------------ driving

    /** Polls until the task finishes, sleeping between polls as the server suggests (at most {@code maxWait}). */
    public void run(Duration maxWait) throws InterruptedException {
        while (true) {
            Step s;
            ProtocolException refused = null;
            try {
                s = step();
            } catch (ProtocolException e) {
                LOG.log(System.Logger.Level.WARNING, "client {0}: round {1} abandoned: {2}", clientId, round, e.getMessage());
                s = Step.ROUND_OVER;
                refused = e;
            }
            if (listener != null) {
                listener.stepped(this, s, refused);
            }
            if (s == Step.FINISHED) {
                return;
            }
            if (s == Step.WAITING || s == Step.NOT_SELECTED || s == Step.ROUND_OVER || s == Step.DECLINED) {
                Thread.sleep(Math.max(1, Math.min(retryAfterMillis, maxWait.toMillis())));
            }
        }
    }

    /**
     * One poll and what it calls for: train and upload, or one secure-aggregation step.
     *
     * @throws ProtocolException when the server refuses a submission or sends what this client refuses (the
     *                           round is then abandoned; the next step polls again)
     */
    public Step step() {
        if (finishedReason != null) {
            return lastStep = Step.FINISHED;
        }
        ServerMessage m = server.exchange(new Message.Poll(envelope()));
        return lastStep = react(m);
    }

    private Step react(ServerMessage m) {
        if (!task.equals(m.task())) {
            throw new ProtocolException(Code.BAD_MESSAGE, "server answered for task " + m.task() + ", not " + task);
        }
        if (m instanceof Message.Finished f) {
            finishedReason = f.reason();
            endRound();
            return Step.FINISHED;
        }
        if (m instanceof Message.NotSelected n) {
            retryAfterMillis = n.retryAfterMillis();
            if (n.round() != round) {
                endRound();
            }
            return Step.NOT_SELECTED;
        }
        if (m instanceof Message.Wait w) {
            retryAfterMillis = w.retryAfterMillis();
            return Step.WAITING;
        }
        if (m instanceof Message.RoundOver o) {
            if (o.round() == round) {
                endRound();
            }
            return Step.ROUND_OVER;
        }
        if (m instanceof Message.RoundTask t) {
            return startRound(t);
        }
        if (secAgg == null || m.round() != round) {
            throw new ProtocolException(Code.BAD_MESSAGE, "unexpected " + m.type() + " for round " + m.round()
                    + " (this client is in round " + round + ")");
        }
        try {
            if (m instanceof Message.PeerKeys p) {
                submit(secAgg.shareKeys(p, envelope()));
                return Step.KEYS_SHARED;
            }
            if (m instanceof Message.SharesForYou s) {
                if (upload == null) {
                    train();
                }
                double scale = Quantizer.scale(plan.coordinateBound(), secAgg.peerCount());
                int[] q = Quantizer.quantize(upload, plan.coordinateBound(), scale, new SplittableRandom(random.nextLong()));
                submit(secAgg.maskInput(s, q, envelope()));
                upload = null;
                return Step.INPUT_SENT;
            }
            if (m instanceof Message.UnmaskingRequest u) {
                submit(secAgg.unmask(u, envelope()));
                roundsContributed++;
                return Step.UNMASKED;
            }
        } catch (ProtocolException e) {
            return abandon(e);
        }
        throw new ProtocolException(Code.BAD_MESSAGE, "unexpected message " + m.type());
    }

    private Step startRound(Message.RoundTask t) {
        if (t.round() == declinedRound) {
            return Step.DECLINED;
        }
        TrainingPlan p = t.plan();
        if (requireSecureAggregation && !p.secureAggregation()) {
            declinedRound = t.round();
            LOG.log(System.Logger.Level.WARNING, "client {0} declines round {1}: the task does not use secure aggregation",
                    clientId, t.round());
            return Step.DECLINED;
        }
        endRound();
        prepareModel(t);
        round = t.round();
        roundNonce = t.roundNonce().clone();
        plan = p;
        global = t.weights().clone();
        try {
            if (!p.secureAggregation()) {
                train();
                submit(new Message.Update(envelope(), upload));
                upload = null;
                roundsContributed++;
                return Step.UPDATE_SENT;
            }
            secAgg = new SecAggClient(task, round, clientId, minSecAggCohort, random);
            submit(secAgg.advertiseKeys(envelope()));
            return Step.KEYS_ADVERTISED;
        } catch (ProtocolException e) {
            return abandon(e);
        }
    }

    private void prepareModel(Message.RoundTask t) {
        if (model == null || !t.modelConfig().equals(modelConfig)) {
            Sequential m = Sequential.fromConfig(ModelConfig.fromMap(t.modelConfig()));
            if (m.loss() == null) {
                m.close();
                throw new ProtocolException(Code.BAD_MESSAGE, "the task's model config has no loss and optimizer");
            }
            if (m.inputSize() != data.numFeatures()) {
                int want = m.inputSize();
                m.close();
                throw new ProtocolException(Code.BAD_MESSAGE, "the task's model takes " + want
                        + " features, this client's data has " + data.numFeatures());
            }
            if (model != null) {
                model.close();
            }
            model = m;
            modelConfig = t.modelConfig();
        }
        if (t.weights().length != model.parameterCount()) {
            throw new ProtocolException(Code.BAD_MESSAGE, "the server sent " + t.weights().length
                    + " weights for a model of " + model.parameterCount() + " parameters");
        }
        for (float w : t.weights()) {
            if (!Float.isFinite(w)) {
                throw new ProtocolException(Code.BAD_MESSAGE, "the server sent non-finite weights");
            }
        }
    }

    private void train() {
        int b = batchSize != null ? batchSize : plan.batchSize();
        lastTraining = LocalTrainer.train(model, data, global, plan, b, seed ^ (round * 0x9E3779B97F4A7C15L));
        upload = LocalTrainer.uploadVector(lastTraining.delta(), lastTraining.examples(), plan);
        if (uploadTamper != null) {
            upload = uploadTamper.apply(upload);
        }
    }

    /** Attack tests: this client sends what {@code tamper} makes of its honest upload vector (before masking). */
    void tamperUpload(java.util.function.UnaryOperator<float[]> tamper) {
        this.uploadTamper = tamper;
    }

    private void submit(ClientMessage m) {
        ServerMessage r = server.exchange(m);
        if (!(r instanceof Message.Accepted)) {
            throw new ProtocolException(Code.BAD_MESSAGE, "server answered " + r.type() + " to " + m.type());
        }
    }

    /** The round cannot continue for this client: a refused or refusing message. */
    private Step abandon(ProtocolException e) {
        if (secAgg != null) {
            secAgg.abort(e.getMessage());
        }
        endRound();
        if (e.code() == Code.WRONG_STATE || e.code() == Code.ABORTED) {
            LOG.log(System.Logger.Level.INFO, "client {0}: round over: {1}", clientId, e.getMessage());
            return Step.ROUND_OVER;
        }
        throw e;
    }

    private void endRound() {
        secAgg = null;
        upload = null;
        global = null;
    }

    private Envelope envelope() {
        byte[] id = new byte[16];
        random.nextBytes(id);
        return new Envelope(task, clientId, round, roundNonce, id);
    }

    // ------------------------------------------------------------------------------------------ state

    public String clientId() {
        return clientId;
    }

    /** The last round this client was given (−1 before any). */
    public long round() {
        return round;
    }

    public Step lastStep() {
        return lastStep;
    }

    /** The last local training's result (update, examples, loss, steps, seconds); null before any. */
    public LocalTrainer.Result lastTraining() {
        return lastTraining;
    }

    /** Rounds whose aggregate this client's update went into (as far as it can tell: it completed its part). */
    public int roundsContributed() {
        return roundsContributed;
    }

    public String finishedReason() {
        return finishedReason;
    }

    /** The client's local model (the last round's locally trained weights), or null before the first round. */
    public Sequential model() {
        return model;
    }

    @Override
    public void close() {
        if (model != null) {
            model.close();
            model = null;
        }
    }

    /** Client settings; the data never leaves the client. */
    public static final class Builder {
        private final String task;
        private final String clientId;
        private final Dataset data;
        private final ServerConnection server;
        private Integer batchSize;
        private long seed = new SecureRandom().nextLong();
        private SecureRandom random = new SecureRandom();
        private int minSecAggCohort = 3;
        private boolean requireSecureAggregation;
        private StepListener listener;

        private Builder(String task, String clientId, Dataset data, ServerConnection server) {
            if (data.size() == 0) {
                throw new IllegalArgumentException("client " + clientId + " has no data");
            }
            this.task = task;
            this.clientId = clientId;
            this.data = data;
            this.server = server;
        }

        /** This client's batch size (default: the plan's). */
        public Builder batchSize(int b) {
            if (b < 1) {
                throw new IllegalArgumentException("batch size must be >= 1, got " + b);
            }
            batchSize = b;
            return this;
        }

        /** Seeds local shuffling (reproducible simulations); keys and masks always come from {@link SecureRandom}. */
        public Builder seed(long s) {
            seed = s;
            return this;
        }

        public Builder random(SecureRandom r) {
            random = r;
            return this;
        }

        /** The smallest secure-aggregation cohort this client joins (default 3: a sum of two reveals each input to the other). */
        public Builder minSecAggCohort(int n) {
            minSecAggCohort = n;
            return this;
        }

        /** Refuse rounds whose plan sends plain updates. */
        public Builder requireSecureAggregation(boolean r) {
            requireSecureAggregation = r;
            return this;
        }

        /** Called after every step of {@link FederatedClient#run}. */
        public Builder listener(StepListener l) {
            listener = l;
            return this;
        }

        public FederatedClient build() {
            return new FederatedClient(this);
        }
    }
}
