package io.dense4j.service.federated;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.federated.FederatedConfig;
import io.dense4j.federated.FederatedCoordinator;
import io.dense4j.federated.RoundSummary;
import io.dense4j.federated.protocol.Limits;
import io.dense4j.model.ModelConfig;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.registry.RegisterOptions;
import io.dense4j.service.job.CodeVersion;
import io.dense4j.service.store.FederatedStore;
import io.dense4j.service.store.StoreException;
import io.dense4j.tune.ConfigException;
import io.dense4j.tune.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The federated tasks of a server: it creates them (issuing one token per enrolled client, stored hashed), runs
 * each task's {@link FederatedCoordinator} (ticking its phase deadlines), records every round in the state store
 * and every round's global model as a registry version with its lineage, resumes its tasks after a restart, and
 * stops them on cancel. The HTTP layer authenticates clients through {@link #authenticate} and passes frames to
 * {@link Running#handle}.
 *
 * <h2>What survives a restart</h2>
 * In the state store: each task's definition (federated config, model config, enrolled clients and the SHA-256 of
 * their tokens), the rounds run, ε spent, each finished round's summary and the registry version of the current
 * global model; in the registry: the global model after round 0 (the initial weights) and after every completed
 * round. Not persisted, by design: the round in flight (its keys, masked running sum and shares exist in the
 * coordinator's memory only; writing them down would only give a later attacker more to work with). A restarted
 * server (or another replica, once the lease expires) resumes each running task: that round is recorded as aborted
 * ("the server stopped during this round") and charged to the privacy accountant, and the next round starts with a
 * new number, nonce and cohort. Aborted rounds change no weights and are not registry versions; they are in the
 * task's round history.
 *
 * <h2>Order of writes</h2>
 * A completed round's model is registered first, then the round and the task's progress are written in one
 * transaction. A server that dies in between leaves a registered version the store does not know: resuming adopts
 * it (its lineage holds the round's summary), so a round is never lost nor registered twice. If recording a round
 * fails, the task stops (it would otherwise release models whose privacy cost is not on record).
 */
public final class FederatedService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FederatedService.class);
    /** Requests per second and burst one client token may make (polls and submissions together). */
    public static final double CLIENT_REQUESTS_PER_SECOND = 10;
    public static final double CLIENT_REQUEST_BURST = 20;
    private static final String TOKEN_PREFIX = "d4fl_";
    private static final String LOST_ROUND = "the server coordinating the task stopped during this round";

    /**
     * @param serverId     this server's name in the store's claims
     * @param lease        how long a claim lasts without renewal (the job lease: a dead server's tasks move after it)
     * @param workDir      where global models are written before they are registered
     * @param tickInterval how often phase deadlines are applied
     */
    public record Settings(String serverId, Duration lease, Path workDir, Duration tickInterval) {}

    /** The task and client a federated client token speaks for. */
    public record Identity(long task, String client) {}

    /** A created task, with its client tokens (shown once: only their hashes are kept). */
    public record Created(Map<String, Object> task, Map<String, String> tokens) {}

    private final FederatedStore store;
    private final ModelRegistry registry;
    private final Settings settings;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();
    private final ConcurrentHashMap<Long, Running> running = new ConcurrentHashMap<>();
    /** Token hash (hex) to identity, for the tasks coordinated here; others are looked up in the store. */
    private final ConcurrentHashMap<String, Identity> tokens = new ConcurrentHashMap<>();
    private final RateLimiter limiter = new RateLimiter(CLIENT_REQUEST_BURST, CLIENT_REQUESTS_PER_SECOND);
    private final Object claimLock = new Object();
    private ScheduledExecutorService ticker;
    private long lastClaimNanos;
    private volatile boolean closed;

    public FederatedService(FederatedStore store, ModelRegistry registry, Settings settings, Clock clock) {
        this.store = store;
        this.registry = registry;
        this.settings = settings;
        this.clock = clock;
    }

    /** Resumes the tasks this server can claim and starts ticking. */
    public void start() {
        reclaim();
        ticker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "federated-ticks");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(50, settings.tickInterval().toMillis());
        ticker.scheduleWithFixedDelay(this::tickAll, every, every, TimeUnit.MILLISECONDS);
    }

    // ------------------------------------------------------------------------------------------ tasks

    /**
     * Creates a task and starts its first round. Round 0's model (the initial weights) is registered first.
     *
     * @throws ConfigException when the spec does not fit (e.g. a registered version of another architecture)
     */
    public Created create(TaskSpec spec, String actor) {
        Initial init = initialModel(spec);
        Map<String, String> issued = new LinkedHashMap<>();
        Map<String, String> hashes = new LinkedHashMap<>();
        for (String c : spec.clients()) {
            byte[] secret = new byte[32];
            random.nextBytes(secret);
            String token = TOKEN_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
            issued.put(c, token);
            hashes.put(tokenHash(token.getBytes(StandardCharsets.US_ASCII)), c);
        }
        Map<String, String> byClient = new LinkedHashMap<>();
        hashes.forEach((h, c) -> byClient.put(c, h));
        synchronized (claimLock) { // the claim sweep must not take the new task for one to resume
            return start(spec, actor, init, hashes, byClient, issued);
        }
    }

    private Created start(TaskSpec spec, String actor, Initial init, Map<String, String> hashes,
                          Map<String, String> byClient, Map<String, String> issued) {
        FederatedStore.Task t = store.insert(new FederatedStore.NewTask(spec.name(), actor, Json.write(spec.config().toMap()),
                Json.write(init.modelConfig), spec.registerAs(), Json.write(init.origin), byClient, settings.serverId(),
                settings.lease()));
        Running r;
        try {
            int v0 = registerGlobal(t, 0, init.weights, null, init.origin);
            if (!store.recordRounds(t.id(), settings.serverId(), List.of(), 0, null, v0)) {
                throw new StoreException("task " + t.id() + " was taken over before it started");
            }
            FederatedCoordinator c = new FederatedCoordinator(Long.toString(t.id()), spec.config(), init.modelConfig,
                    init.weights, spec.clients(), random, clock);
            r = new Running(store.task(t.id()).orElseThrow(), c, hashes);
            r.modelVersion = v0;
            running.put(t.id(), r);
            hashes.forEach((h, client) -> tokens.put(h, new Identity(t.id(), client)));
            c.addListener(r::roundFinished);
            c.start();
        } catch (RuntimeException e) {
            running.remove(t.id());
            hashes.keySet().forEach(tokens::remove);
            store.finish(t.id(), settings.serverId(), "failed", "could not start: " + e.getMessage());
            throw e;
        }
        LOG.info("federated task {} '{}' created by {}: {} clients, {} rounds, secure aggregation {}, noise {}", t.id(),
                spec.name(), actor, spec.clients().size(), spec.config().rounds(),
                spec.config().secureAggregation() ? "on" : "off", spec.config().noiseMultiplier());
        r.settle();
        return new Created(view(t.id(), false), issued);
    }

    /** The weights, model config and origin of round 1. */
    private record Initial(float[] weights, Map<String, Object> modelConfig, Map<String, Object> origin) {}

    private Initial initialModel(TaskSpec spec) {
        Map<String, Object> origin = new LinkedHashMap<>();
        if (spec.initial() instanceof TaskSpec.Initial.Seed s) {
            try (Sequential m = Sequential.fromConfig(spec.model())) {
                m.initialize(s.seed());
                origin.put("seed", s.seed());
                return checked(new Initial(m.parameters(), m.config().toMap(), origin));
            }
        }
        TaskSpec.Initial.Version v = (TaskSpec.Initial.Version) spec.initial();
        if (!registry.exists(v.model())) {
            throw new ConfigException("/initial/model", "no registered model '" + v.model() + "'");
        }
        int version = v.version().matches("[0-9]+") ? Integer.parseInt(v.version())
                : registry.resolveAlias(v.model(), v.version()).orElseThrow(() -> new ConfigException("/initial/version",
                "model '" + v.model() + "' has no alias '" + v.version() + "'"));
        if (!registry.versionNumbers(v.model()).contains(version)) {
            throw new ConfigException("/initial/version", "model '" + v.model() + "' has no version " + version);
        }
        try (Sequential loaded = Sequential.load(registry.modelFile(v.model(), version))) {
            ModelConfig have = loaded.config();
            ModelConfig want = spec.model();
            if (want == null) {
                if (have.compile() == null) {
                    throw new ConfigException("/model", v.model() + " version " + version + " has no compile_config: "
                            + "give /model with the clients' local optimizer and loss");
                }
                want = have;
            } else {
                if (!want.layers().equals(have.layers())) {
                    throw new ConfigException("/model/layers", "differ from the layers of " + v.model() + " version "
                            + version + " (" + loaded.architecture() + "), whose weights round 1 would start from");
                }
                if (want.preprocessing() == null) {
                    want = want.withPreprocessing(have.preprocessing()); // the weights were trained behind it
                } else if (!want.preprocessing().equals(have.preprocessing())) {
                    throw new ConfigException("/model/preprocessing", "differs from the preprocessing " + v.model()
                            + " version " + version + " was trained with");
                }
            }
            origin.put("model", v.model());
            origin.put("version", version);
            ModelVersionInfo info = registry.describe(v.model(), version);
            origin.put("sha256", info.sha256());
            return checked(new Initial(loaded.parameters(), want.toMap(), origin));
        }
    }

    private static Initial checked(Initial i) {
        if (i.weights.length + 1L > Limits.DEFAULT.maxVectorLength()) {
            throw new ConfigException("/model/layers", "a federated model has at most "
                    + (Limits.DEFAULT.maxVectorLength() - 1) + " parameters, this one " + i.weights.length);
        }
        return i;
    }

    /** The task coordinated here, or null (unknown, finished, or coordinated by another server). */
    public Running running(long task) {
        return running.get(task);
    }

    public Optional<FederatedStore.Task> task(long id) {
        return store.task(id);
    }

    /**
     * Why version {@code version} of registry model {@code model} may not be deleted now, or empty: it is the current
     * global model of a running task, which every round and a resume after a restart start from (deleted, the task
     * failed at the next restart and lost its rounds).
     */
    public Optional<String> versionInUse(String model, int version) {
        for (FederatedStore.Task t : store.tasks("running", Integer.MAX_VALUE)) {
            String name = t.registerAs() != null ? t.registerAs() : "federated-" + t.id();
            if (name.equals(model) && t.modelVersion() != null && t.modelVersion() == version) {
                return Optional.of("version " + version + " of model '" + model + "' is the current global model of "
                        + "running federated task " + t.id() + "; cancel the task first, or wait for its next round");
            }
        }
        return Optional.empty();
    }

    /** The client a token (its SHA-256) belongs to, if any. */
    public Optional<Identity> authenticate(byte[] tokenSha256) {
        String h = HexFormat.of().formatHex(tokenSha256);
        Identity id = tokens.get(h);
        if (id != null) {
            return Optional.of(id);
        }
        return store.clientByTokenHash(h).map(c -> new Identity(c.taskId(), c.client()));
    }

    /** 0 when this client may send a request now, else the milliseconds until it may. */
    public long throttle(byte[] tokenSha256) {
        return limiter.acquire(HexFormat.of().formatHex(tokenSha256));
    }

    /** Cancels a running task (wherever it runs); false when it had already ended. */
    public boolean cancel(long id, String actor) {
        boolean cancelled = store.cancel(id, "cancelled by " + actor);
        Running r = running.get(id);
        if (r != null) {
            r.abandon("cancelled by " + actor);
        }
        if (cancelled) {
            LOG.info("federated task {} cancelled by {}", id, actor);
        }
        return cancelled;
    }

    /** Tasks, newest first (optionally in one state), as {@link #view}s without their round history. */
    public List<Map<String, Object>> list(String state, int limit) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (FederatedStore.Task t : store.tasks(state, limit)) {
            out.add(view(t, false));
        }
        return out;
    }

    /**
     * A task as admins see it: definition, state, phase, rounds, ε, the registry version of its global model and
     * (with {@code history}) every finished round's summary. Never a weight, an update or a token.
     */
    public Map<String, Object> view(long id, boolean history) {
        return view(store.task(id).orElseThrow(() -> new StoreException(StoreException.Kind.NOT_FOUND,
                "no federated task " + id)), history);
    }

    private Map<String, Object> view(FederatedStore.Task t, boolean history) {
        Running r = running.get(t.id());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", t.id());
        m.put("name", t.name());
        m.put("state", t.state());
        FederatedConfig config;
        try {
            config = FederatedConfig.fromMap(Json.toMap(Json.parse(t.config())));
        } catch (IllegalArgumentException e) {
            // a task stored by an earlier version whose settings this one refuses: shown as stored, never hidden
            m.put("rounds_run", t.roundsRun());
            m.put("created_at", Instant.ofEpochMilli(t.createdAt()).toString());
            m.put("created_by", t.createdBy());
            m.put("config", Json.toMap(Json.parse(t.config())));
            m.put("config_error", e.getMessage());
            return m;
        }
        List<String> clients = store.clients(t.id());
        m.put("phase", r != null ? r.coordinator.phase() : t.running() ? "coordinated by another server" : t.state());
        m.put("rounds_run", t.roundsRun());
        m.put("rounds", config.rounds());
        m.put("created_at", Instant.ofEpochMilli(t.createdAt()).toString());
        m.put("created_by", t.createdBy());
        m.put("updated_at", Instant.ofEpochMilli(t.updatedAt()).toString());
        m.put("register_as", t.registerAs());
        m.put("model_version", t.modelVersion());
        m.put("origin", Json.toMap(Json.parse(t.origin())));
        m.put("finished_reason", t.finishedReason());
        Map<String, Object> cl = new LinkedHashMap<>();
        cl.put("enrolled", clients.size());
        cl.put("names", clients);
        cl.put("sampling_rate", Math.min(1.0, config.clientsPerRound() / (double) clients.size()));
        if (r != null) {
            cl.put("selected_now", r.coordinator.selected().size());
            cl.put("last_seen", r.lastSeenView());
        }
        m.put("clients", cl);
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("differential_privacy", config.differentiallyPrivate());
        p.put("epsilon", t.epsilon());
        p.put("delta", config.delta());
        p.put("epsilon_budget", Double.isInfinite(config.epsilonBudget()) ? null : config.epsilonBudget());
        p.put("noise_multiplier", config.noiseMultiplier());
        p.put("clip_norm", config.clipNorm());
        p.put("secure_aggregation", config.secureAggregation());
        m.put("privacy", p);
        m.put("config", config.toMap());
        if (history) {
            m.put("model_config", Json.toMap(Json.parse(t.modelConfig())));
            List<Object> rounds = new ArrayList<>();
            for (FederatedStore.Round round : store.rounds(t.id())) {
                Map<String, Object> s = Json.toMap(Json.parse(round.summary()));
                s.put("model_version", round.modelVersion());
                s.put("finished_at", Instant.ofEpochMilli(round.finishedAt()).toString());
                rounds.add(s);
            }
            m.put("history", rounds);
        }
        return m;
    }

    // ------------------------------------------------------------------------------------------ running tasks

    /** A task coordinated by this server. */
    public final class Running {
        private final long id;
        private final FederatedCoordinator coordinator;
        private final String registerAs;
        private final String createdBy;
        private final Map<String, Object> origin;
        private final Map<String, String> tokenHashes;
        private final ConcurrentHashMap<String, Long> lastSeen = new ConcurrentHashMap<>();
        /** The registry version of the current global model (under the coordinator's lock). */
        private Integer modelVersion;
        private volatile boolean settled;

        private Running(FederatedStore.Task t, FederatedCoordinator coordinator, Map<String, String> tokenHashes) {
            this.id = t.id();
            this.coordinator = coordinator;
            this.registerAs = t.registerAs();
            this.createdBy = t.createdBy();
            this.origin = Json.toMap(Json.parse(t.origin()));
            this.tokenHashes = Map.copyOf(tokenHashes);
            this.modelVersion = t.modelVersion();
        }

        public long id() {
            return id;
        }

        /** The largest message this task accepts (checked against Content-Length before reading). */
        public long maxRequestBytes() {
            return coordinator.maxRequestBytes();
        }

        /**
         * One client message; returns the answer frame.
         *
         * @throws io.dense4j.federated.protocol.ProtocolException when refused (nothing changed)
         */
        public byte[] handle(String client, byte[] frame) {
            lastSeen.put(client, clock.millis());
            try {
                return coordinator.handle(client, frame);
            } finally {
                settle();
            }
        }

        /** After each round: its model into the registry (completed rounds), then the round into the store. */
        private void roundFinished(RoundSummary s, float[] weights) {
            try {
                Integer version = null;
                if (s.completed()) {
                    FederatedStore.Task t = store.task(id).orElseThrow();
                    version = registerGlobal(t, s.round(), weights, s, origin);
                }
                FederatedStore.Round row = new FederatedStore.Round(s.round(), s.status(), Json.write(s.toMap()), version,
                        clock.millis());
                if (!store.recordRounds(id, settings.serverId(), List.of(row), s.round(), finite(s.epsilon()), version)) {
                    release(); // cancelled, or taken over: the store says which on the next request
                    return;
                }
                if (version != null) {
                    modelVersion = version;
                }
            } catch (RuntimeException e) {
                LOG.error("federated task {}: cannot record round {}; the task stops", id, s.round(), e);
                String reason = "cannot record round " + s.round() + ": " + e.getMessage();
                store.finish(id, settings.serverId(), "failed", reason);
                abandon(reason);
            }
        }

        /** Records the end of a task that finished by itself (rounds done, budget spent) once; stops coordinating it. */
        private void settle() {
            if (settled || !coordinator.finished() || !claimSettlement()) {
                return;
            }
            String reason = coordinator.finishedReason();
            if (store.finish(id, settings.serverId(), "finished", reason)) {
                LOG.info("federated task {} finished after round {}: {}", id, coordinator.round(), reason);
            }
            drop(this);
        }

        /** True for the one caller that settles this task's end. */
        private synchronized boolean claimSettlement() {
            if (settled) {
                return false;
            }
            settled = true;
            return true;
        }

        /**
         * Ends the task here, as cancelled or failed (already written to the store): polls are answered "finished"
         * with this reason until the client has seen it.
         */
        private void abandon(String reason) {
            claimSettlement();
            coordinator.stop(reason);
            drop(this);
        }

        /**
         * Stops coordinating the task here without ending it (this server stops, or lost its claim): clients are told
         * to retry (503) and the server that resumes it next records the round in flight as lost.
         */
        private void release() {
            claimSettlement();
            drop(this);
        }

        private Map<String, Object> lastSeenView() {
            Map<String, Object> m = new java.util.TreeMap<>();
            lastSeen.forEach((c, t) -> m.put(c, Instant.ofEpochMilli(t).toString()));
            return m;
        }

        /** The coordinator itself: tests inspect what the server holds. */
        public FederatedCoordinator coordinator() {
            return coordinator;
        }
    }

    private void drop(Running r) {
        running.remove(r.id, r);
        r.tokenHashes.keySet().forEach(tokens::remove);
    }

    private static Double finite(double d) {
        return Double.isFinite(d) ? d : null;
    }

    /**
     * Writes the global model after {@code round} (0: the initial weights) and registers it as the next version of
     * the task's model, with its lineage in the file's training metadata.
     */
    private int registerGlobal(FederatedStore.Task t, long round, float[] weights, RoundSummary s,
                               Map<String, Object> origin) {
        Map<String, Object> modelConfig = Json.toMap(Json.parse(t.modelConfig()));
        Path dir = settings.workDir().resolve("federated-" + t.id());
        Path file = dir.resolve("round-" + round + ".d4j");
        try (Sequential m = Sequential.fromConfig(ModelConfig.fromMap(modelConfig))) {
            m.setParameters(weights);
            Map<String, Object> lineage = new LinkedHashMap<>();
            lineage.put("federated_task", t.id());
            lineage.put("task_name", t.name());
            lineage.put("round", round);
            lineage.put("parent_version", t.modelVersion());
            lineage.put("origin", origin);
            lineage.put("summary", s == null ? null : s.toMap());
            lineage.put("federated_config", Json.toMap(Json.parse(t.config())));
            lineage.put("code_version", CodeVersion.get());
            lineage.put("created_at", Instant.now(clock).toString());
            m.trainingInfo().put("lineage", lineage);
            Files.createDirectories(dir);
            m.save(file);
            RegisterOptions o = RegisterOptions.defaults().source(source(t.id(), round)).actor(t.createdBy())
                    .metric("round", round);
            if (s != null) {
                o.metric("participants", s.participants()).metric("selected", s.selected())
                        .metric("bytes_up", s.bytesUp()).metric("bytes_down", s.bytesDown());
                if (Double.isFinite(s.epsilon())) {
                    o.metric("epsilon", s.epsilon()).metric("delta", s.delta());
                }
            }
            return registry.register(t.registerAs(), file, o).version();
        } catch (IOException e) {
            throw new StoreException("cannot write the global model of task " + t.id() + " round " + round + ": "
                    + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a leftover work file is harmless
            }
        }
    }

    /** The source a task's round model is registered with: how a resumed task finds versions the store missed. */
    static String source(long task, long round) {
        return "federated:" + task + "/round/" + round;
    }

    // ------------------------------------------------------------------------------------------ ticks and claims

    private void tickAll() {
        if (closed) {
            return;
        }
        for (Running r : running.values()) {
            try {
                r.coordinator.tick();
                r.settle();
            } catch (RuntimeException e) {
                LOG.error("federated task {}: tick failed", r.id, e);
            }
        }
        long now = System.nanoTime();
        if (now - lastClaimNanos >= settings.lease().toNanos() / 3) {
            try {
                reclaim();
            } catch (RuntimeException e) {
                LOG.error("federated tasks: cannot renew claims", e);
            }
            limiter.forgetIdle(TimeUnit.MINUTES.toNanos(1));
        }
    }

    /**
     * Renews this server's claims, resumes the tasks newly claimed (after a restart, or from a server whose lease
     * expired) and stops coordinating those no longer held (cancelled from another server, or taken over).
     */
    private void reclaim() {
        synchronized (claimLock) {
            lastClaimNanos = System.nanoTime();
            List<Long> held = store.claim(settings.serverId(), settings.lease());
            for (Running r : running.values()) {
                if (!held.contains(r.id)) {
                    Optional<FederatedStore.Task> t = store.task(r.id);
                    if (t.isPresent() && !t.get().running()) {
                        r.abandon(t.get().finishedReason() == null ? t.get().state() : t.get().finishedReason());
                    } else {
                        r.release(); // another server holds it now
                    }
                }
            }
            for (long id : held) {
                if (!running.containsKey(id) && !closed) {
                    resume(id);
                }
            }
        }
    }

    private void resume(long id) {
        try {
            FederatedStore.Task t = store.task(id).orElseThrow();
            FederatedConfig config = FederatedConfig.fromMap(Json.toMap(Json.parse(t.config())));
            Map<String, Object> modelConfig = Json.toMap(Json.parse(t.modelConfig()));
            List<RoundSummary> history = new ArrayList<>();
            for (FederatedStore.Round r : store.rounds(id)) {
                history.add(RoundSummary.fromMap(Json.toMap(Json.parse(r.summary()))));
            }
            if (t.modelVersion() == null) {
                throw new IllegalStateException("no global model was recorded");
            }
            long roundsRun = t.roundsRun();
            int version = t.modelVersion();
            // a completed round whose model was registered but whose record was not written (the server died between)
            Adopted adopted = newerVersion(t);
            if (adopted != null) {
                FederatedStore.Round row = new FederatedStore.Round(adopted.summary.round(), adopted.summary.status(),
                        Json.write(adopted.summary.toMap()), adopted.version, clock.millis());
                store.recordRounds(id, settings.serverId(), List.of(row), adopted.summary.round(),
                        finite(adopted.summary.epsilon()), adopted.version);
                history.add(adopted.summary);
                roundsRun = adopted.summary.round();
                version = adopted.version;
            }
            float[] weights;
            try (Sequential m = Sequential.load(registry.modelFile(t.registerAs(), version))) {
                weights = m.parameters();
            }
            Map<String, String> hashes = store.tokenHashes(id);
            int before = history.size();
            FederatedCoordinator c = FederatedCoordinator.resume(Long.toString(id), config, modelConfig, weights,
                    hashes.values(), roundsRun, history, LOST_ROUND, random, clock);
            List<RoundSummary> after = c.history();
            if (after.size() > before) {
                RoundSummary lost = after.get(after.size() - 1);
                store.recordRounds(id, settings.serverId(), List.of(new FederatedStore.Round(lost.round(), lost.status(),
                        Json.write(lost.toMap()), null, clock.millis())), lost.round(), finite(lost.epsilon()), null);
            }
            Running r = new Running(store.task(id).orElseThrow(), c, hashes);
            r.modelVersion = version;
            running.put(id, r);
            hashes.forEach((h, client) -> tokens.put(h, new Identity(id, client)));
            c.addListener(r::roundFinished);
            c.start();
            LOG.info("federated task {} resumed on {} after round {} (global model: {} version {})", id,
                    settings.serverId(), roundsRun, t.registerAs(), version);
            r.settle();
        } catch (RuntimeException e) {
            LOG.error("federated task {}: cannot resume; marking it failed", id, e);
            Running r = running.remove(id);
            if (r != null) {
                r.tokenHashes.keySet().forEach(tokens::remove);
            }
            store.finish(id, settings.serverId(), "failed", "cannot resume after a restart: " + e.getMessage());
        }
    }

    private record Adopted(RoundSummary summary, int version) {}

    /** The newest registered round model of this task beyond what the store recorded, if any. */
    private Adopted newerVersion(FederatedStore.Task t) {
        if (!registry.exists(t.registerAs())) {
            return null;
        }
        String prefix = "federated:" + t.id() + "/round/";
        Adopted best = null;
        for (ModelVersionInfo v : registry.versions(t.registerAs())) {
            if (!v.source().startsWith(prefix)) {
                continue;
            }
            long round = Long.parseLong(v.source().substring(prefix.length()));
            if (round > t.roundsRun() && (best == null || round > best.summary.round())) {
                try (Sequential m = Sequential.load(registry.modelFile(t.registerAs(), v.version()))) {
                    Object lineage = m.trainingInfo().get("lineage");
                    if (lineage instanceof Map<?, ?> l && l.get("summary") instanceof Map<?, ?> s) {
                        @SuppressWarnings("unchecked")
                        Map<String, Object> summary = (Map<String, Object>) s;
                        best = new Adopted(RoundSummary.fromMap(summary), v.version());
                    }
                }
            }
        }
        return best;
    }

    // ------------------------------------------------------------------------------------------ plumbing

    static String tokenHash(byte[] token) {
        return HexFormat.of().formatHex(sha256(token));
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The body of a JSON request as a tree (strict: duplicate keys and trailing tokens are errors). */
    public static JsonNode parse(String text) {
        return Json.parse(text);
    }

    /**
     * Stops ticking and hands this server's tasks back (their claims released, so a restarted server or another
     * replica resumes them at once); the rounds in flight are lost, as after a crash.
     */
    @Override
    public void close() {
        closed = true;
        if (ticker != null) {
            ticker.shutdownNow();
            try {
                ticker.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (claimLock) {
            for (Running r : running.values()) {
                r.release();
            }
            try {
                store.release(settings.serverId());
            } catch (RuntimeException e) {
                LOG.warn("federated tasks: cannot release claims on stopping", e);
            }
        }
    }
}
