package io.dense4j.service.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.Dense4J;
import io.dense4j.KernelThreads;
import io.dense4j.Sequential;
import io.dense4j.ThreadTeam;
import io.dense4j.data.Dataset;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.registry.RegisterOptions;
import io.dense4j.service.InferenceActivity;
import io.dense4j.service.ThreadPriority;
import io.dense4j.tensor.Device;
import io.dense4j.train.Callback;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.TrainableModel;
import io.dense4j.train.Trainer;
import io.dense4j.tune.ConfigAdapter;
import io.dense4j.tune.ConfigException;
import io.dense4j.tune.Json;
import io.dense4j.tune.TrialRecord;
import io.dense4j.tune.TuneListener;
import io.dense4j.tune.TuneResult;
import io.dense4j.tune.Tuner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;

/**
 * Runs one job from its {@link JobSpec}: train, tune or evaluate, on the rows of its data set minus a holdout that
 * training never sees; then (train, tune) registers the model with its lineage and decides the promotion on that
 * same holdout. Everything it reports goes through the {@link JobContext}; it knows nothing of HTTP or SQL.
 *
 * <ul>
 *   <li><b>Cancellation</b>: {@link JobContext#cancelRequested()} is checked between chunks of training steps (and
 *       between trials); the job ends with {@link JobCancelledException}.</li>
 *   <li><b>Checkpoints</b> (train, and a tune's retrain of its best trial): the model is saved atomically at the
 *       end of an epoch once the job's checkpoint interval has passed since the last one, and after the last epoch
 *       ({@link CheckpointSchedule}), and the context told; a later attempt (the server died) resumes from the
 *       last one with the remaining epochs. A checkpoint holds the optimizer's buffers too, so a resumed run keeps the weights, normalizer, optimizer step (every schedule
 *       continues exactly) and the Adam/RMSprop/momentum buffers, and the fit resumes at its epoch with the shuffles and
 *       dropout masks the uninterrupted run draws, and early stopping continues its patience window, best value
 *       and best weights ({@link EarlyStoppingStates}): a resumed job stops at the same epoch with the same
 *       weights, bit for bit. The checkpoint record is a few bytes; the epochs' metrics are the job's "epoch"
 *       events. A tune job resumes its search: finished trials are kept, unfinished ones run again, and new
 *       trials get the configs the uninterrupted search draws ({@link Tuner#search(Dataset, List)}); its retrain
 *       of the best trial checkpoints and resumes as a train job does, its checkpoints tagged with the trial,
 *       config and epochs they belong to ({@code "retrain"}), so no other training resumes from them.</li>
 *   <li><b>Threads</b>: the job's kernels run on a private team of the CPU threads the scheduler gave it
 *       ({@link Dense4J#threadTeam}; a tune job's parallel trials share them out), on kernel threads at the job
 *       priority ({@link Dense4J#kernelThreads}: SCHED_IDLE by default), while the job thread, which holds the
 *       locks of the state store and the registry when it writes, keeps the server's priority. The data set is read
 *       (hashed, decoded) at the kernels' priority too, its native allocations handed back to the job thread.</li>
 *   <li><b>Exactly one version per job</b>: the version is registered with source {@code job:<id>}; an attempt that
 *       finds that version already registered (its predecessor died after registering) reuses it.</li>
 *   <li><b>Lineage</b>, stored in the model file's training metadata under {@code lineage}: the job id and spec, the
 *       data set's SHA-256, the holdout, per-epoch metrics, the tuning trials, the parent version and the code
 *       version.</li>
 * </ul>
 */
public final class JobRunner {
    private final ModelRegistry registry;
    private final DatasetResolver datasets;
    private final Promoter promoter;
    private final java.time.Duration checkpointInterval;
    private final int kernelNice;
    private final InferenceActivity inference;
    private final java.time.Duration yield;
    private final StorageCheck storage;

    /**
     * Refuses what would take an owner over its share of the disk (the server's storage quota); throws to refuse.
     * {@link #NO_STORAGE_CHECK} lets everything through.
     */
    public interface StorageCheck {
        void requireRoom(String owner, long moreBytes, String what);

        /**
         * Holds {@code moreBytes} of {@code owner}'s room (refused as {@link #requireRoom} refuses) while it is
         * written: {@link Hold#keep} counts it as kept, closing gives back what was not kept.
         */
        default Hold hold(String owner, long moreBytes, String what) {
            requireRoom(owner, moreBytes, what);
            return new Hold() {
                @Override
                public void keep(long keptBytes) {
                }

                @Override
                public void close() {
                }
            };
        }

        /** Room held for something being written. */
        interface Hold extends AutoCloseable {
            void keep(long keptBytes);

            @Override
            void close();
        }
    }

    public static final StorageCheck NO_STORAGE_CHECK = (owner, bytes, what) -> { };

    /** The owner name of jobs submitted with the admin credentials (no training token may be named so). */
    public static final String ADMIN_OWNER = "admin";

    /**
     * Why {@code owner}'s jobs may not register versions of {@code model} (and so, through {@code promote}, move what
     * it serves), or empty when they may: a training token's jobs register new models and models they created; a
     * model with a version registered otherwise (an admin's upload, the CLI, another token's job) is not theirs to
     * change, nor is a model whose versions were all deleted (its history and name stay someone else's). A version
     * is a job's by its source ({@code job:<id>}) and actor together: an upload's actor is a free-form audit name,
     * which may happen to spell a token's. Admins' jobs register anywhere.
     */
    /** Whether the registry has a model of this name (versions or not). */
    public boolean modelExists(String model) {
        return registry.exists(model);
    }

    public Optional<String> registrationRefusal(String model, String owner) {
        if (owner.equals(ADMIN_OWNER) || !registry.exists(model)) {
            return Optional.empty();
        }
        List<ModelVersionInfo> versions = registry.versions(model);
        if (versions.isEmpty() && registry.history(model).isEmpty()) {
            return Optional.empty(); // its first version is being published right now (no history yet)
        }
        if (versions.isEmpty()) {
            return Optional.of("model '" + model + "' exists with no versions left (deleted): a training token's jobs "
                    + "register only new models or models they created; choose another register_as, or ask an admin");
        }
        if (versions.stream().allMatch(v -> owner.equals(v.actor()) && v.source().startsWith(JOB_SOURCE))) {
            return Optional.empty();
        }
        return Optional.of("model '" + model + "' has versions that " + owner + "'s jobs did not register: a training "
                + "token's jobs register (and promote) only new models or models they created; choose another "
                + "register_as, or ask an admin");
    }


    /** The source a job's registered versions carry, before the job's id. */
    static final String JOB_SOURCE = "job:";

    /** A runner whose train jobs checkpoint at {@link CheckpointSchedule#DEFAULT_MIN_INTERVAL} unless they say. */
    public JobRunner(ModelRegistry registry, DatasetResolver datasets, Promoter promoter) {
        this(registry, datasets, promoter, CheckpointSchedule.DEFAULT_MIN_INTERVAL, 0);
    }

    /**
     * @param checkpointInterval a train job's checkpoint interval when its spec gives none
     * @param kernelNice         the priority of a job's kernel threads: a nice value 1..19, {@link ThreadPriority#IDLE}
     *                           (Linux SCHED_IDLE), or 0 to run the kernels on the job thread itself
     */
    public JobRunner(ModelRegistry registry, DatasetResolver datasets, Promoter promoter,
                     java.time.Duration checkpointInterval, int kernelNice) {
        this(registry, datasets, promoter, checkpointInterval, kernelNice, new InferenceActivity(),
                java.time.Duration.ZERO, NO_STORAGE_CHECK);
    }

    private JobRunner(ModelRegistry registry, DatasetResolver datasets, Promoter promoter,
                      java.time.Duration checkpointInterval, int kernelNice, InferenceActivity inference,
                      java.time.Duration yield, StorageCheck storage) {
        this.storage = storage;
        this.registry = registry;
        this.datasets = datasets;
        this.promoter = promoter;
        this.checkpointInterval = checkpointInterval;
        this.kernelNice = kernelNice;
        this.inference = inference;
        this.yield = yield;
    }

    /**
     * This runner, with its jobs waiting between chunks of training steps (and between a tune's trial epochs) while
     * {@code inference} has requests in flight, at most {@code maxWait} each time (zero: never).
     */
    public JobRunner yieldingTo(InferenceActivity inference, java.time.Duration maxWait) {
        return new JobRunner(registry, datasets, promoter, checkpointInterval, kernelNice, inference, maxWait, storage);
    }

    /** This runner, refusing to register a model that would take its job's owner over {@code check}'s quota. */
    public JobRunner withStorageCheck(StorageCheck check) {
        return new JobRunner(registry, datasets, promoter, checkpointInterval, kernelNice, inference, yield, check);
    }

    /** The storage check jobs register under (submission checks it too). */
    public StorageCheck storageCheck() {
        return storage;
    }

    /** Serving first: waits (bounded) while inference requests are in flight; on the job thread, holding no lock. */
    private void yieldToInference() {
        inference.awaitQuiet(yield);
    }

    /** Runs the job to its end; returns its result (JSON). Throws {@link JobCancelledException} when cancelled. */
    public ObjectNode run(JobSpec spec, JobContext ctx) {
        // The job's kernels run on exactly the threads the scheduler gave it (a tune's trials share them out), on
        // kernel threads at the job priority, while this thread (its events, checkpoints, registry and store writes,
        // which hold locks other threads wait for) keeps the server's: a starved thread holding a lock stalls them all.
        try (KernelThreads kernels = kernelNice > 0 ? Dense4J.kernelThreads(kernelThreadFactory()) : null;
             ThreadTeam team = Dense4J.threadTeam(ctx.cpus());
             DatasetResolver.Loaded data = loadData(spec)) {
            phase(ctx, "loading", "data set " + spec.datasetSha256() + ": " + data.train().size() + " rows, "
                    + team.threads() + " CPU thread" + (team.threads() == 1 ? "" : "s"));
            ObjectNode result = switch (spec.type()) {
                case TRAIN, TUNE -> trainOrTune(spec, ctx, data);
                case EVALUATE -> evaluate(spec, ctx, data);
            };
            result.set("cpu_threads", threadsJson(team));
            return result;
        }
    }

    /**
     * The job's data set: looked up here (the state store), then read (hashed and decoded) at the priority of the
     * job's kernels, this thread running only its few native allocations (see {@link LoweredCall}).
     */
    private DatasetResolver.Loaded loadData(JobSpec spec) {
        DatasetResolver.Reader reader = datasets.locate(spec.datasetSha256());
        if (kernelNice <= 0) {
            return reader.read(io.dense4j.data.TensorAllocation.DIRECT);
        }
        return LoweredCall.call(kernelThreadFactory(kernelNice, Thread.currentThread().getName() + "-data"),
                reader::read);
    }

    private ThreadFactory kernelThreadFactory() {
        return kernelThreadFactory(kernelNice, Thread.currentThread().getName() + "-kernels");
    }

    /** Kernel threads called {@code name}, each lowering its own priority to {@code nice} (or SCHED_IDLE) first. */
    public static ThreadFactory kernelThreadFactory(int nice, String name) {
        return r -> new Thread(() -> {
            ThreadPriority.lowerCurrentThread(nice); // the team workers it starts inherit it
            r.run();
        }, name);
    }

    /** The job thread's team and its counters: whether the job's kernels ran on the threads it was given. */
    private static ObjectNode threadsJson(ThreadTeam team) {
        ThreadTeam.Stats st = team.stats();
        ObjectNode t = Json.MAPPER.createObjectNode();
        t.put("team", Dense4J.threads());
        t.put("parallel_regions", st.parallel());
        t.put("serial_regions", st.serial());
        t.put("regions_serial_for_another_thread", st.busy());
        return t;
    }

    // ---------------------------------------------------------------------------------------------- train / tune

    private ObjectNode trainOrTune(JobSpec spec, JobContext ctx, DatasetResolver.Loaded data) {
        JobSpec.Holdout h = effectiveHoldout(spec.holdout(), data);
        try (Parts parts = split(data, h)) {
            ConfigAdapter cfg = ConfigAdapter.parse(spec.config());
            try {
                cfg.checkData(parts.fit);
            } catch (ConfigException e) {
                throw new ConfigException("/config" + e.path(), e.getMessage());
            }
            ObjectNode result = Json.MAPPER.createObjectNode();
            result.put("type", spec.type().jsonName());
            ObjectNode holdoutJson = h.toJson();
            holdoutJson.put("rows", parts.holdout.size());
            holdoutJson.put("training_rows", parts.fit.size());
            result.set("holdout", holdoutJson);
            ObjectNode parentJson = null;
            ArrayNode epochs;
            JsonNode trials = null;
            Sequential model;
            if (spec.type() == JobSpec.Type.TUNE) {
                Tuner tuner = new Tuner(spec.tune(), spec.config(), new Tuner.Options(devices(ctx),
                        tuneListener(ctx), () -> {
                            yieldToInference();
                            return ctx.cancelRequested();
                        }).withCpus(ctx.cpus()));
                List<TrialRecord> earlier = resumableTrials(ctx, tuner);
                phase(ctx, "searching", spec.tune().maxTrials() + " trials, " + spec.tune().maxParallelTrials()
                        + " at a time");
                TuneResult r;
                try {
                    r = tuner.search(parts.fit, earlier);
                } catch (Tuner.TuneCancelledException e) {
                    throw new JobCancelledException();
                }
                trials = summarize(r);
                // the result keeps each trial's summary: the full records (every epoch's metrics) are the trials
                // route's, a page at a time; here they made the job's result as large as its whole search
                ObjectNode tune = r.toJson();
                tune.set("trials", trials);
                result.set("tune", tune);
                TrialRecord best = r.best().orElseThrow(() -> new IllegalStateException("every trial failed; first error: "
                        + r.trials().stream().map(TrialRecord::error).filter(e -> e != null).findFirst().orElse("none")));
                if (!spec.tune().retrainBest()) {
                    result.put("best_trial", best.id());
                    return result;
                }
                phase(ctx, "retraining", "trial " + best.id() + " on all " + parts.fit.size() + " training rows");
                ConfigAdapter bestCfg = ConfigAdapter.parse(best.config());
                bestCfg.checkData(parts.fit);
                Trained t = trainWithCheckpoints(spec, ctx, bestCfg, tuner.retrainEpochs(best), parts.fit,
                        RetrainTag.of(best, tuner.retrainEpochs(best)));
                model = t.model();
                epochs = t.history();
                result.put("best_trial", best.id());
            } else {
                Trained t = trainWithCheckpoints(spec, ctx, cfg, cfg.epochs(), parts.fit, null);
                model = t.model();
                epochs = t.history();
                parentJson = t.parent();
            }
            try (Sequential m = model) {
                result.set("epochs", epochs);
                return finishModel(spec, ctx, cfg, m, parts.holdout, h, epochs, trials, parentJson, result);
            }
        }
    }

    /** A model trained by a job, the metrics of its epochs, and the registered version it continued from. */
    private record Trained(Sequential model, ArrayNode history, ObjectNode parent) {}

    /**
     * What a tune job's retrain of its best trial writes in each checkpoint, so that a later attempt resumes only
     * the retrain of that same trial, config and epochs (a search that started again may pick another best), never
     * a train job's or another trial's checkpoint.
     */
    private record RetrainTag(int trial, String configSha256, int epochs) {
        static RetrainTag of(TrialRecord best, int epochs) {
            return new RetrainTag(best.id(), sha256(best.config().toString()), epochs);
        }

        ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("trial", trial);
            o.put("config_sha256", configSha256);
            o.put("epochs", epochs);
            return o;
        }

        /** Whether {@code checkpoint} is this retrain's, or (no tag) a train job's without one. */
        static boolean matches(RetrainTag tag, JsonNode checkpoint) {
            JsonNode r = checkpoint.get("retrain");
            return tag == null ? r == null : r != null && r.equals(tag.toJson());
        }

        private static String sha256(String text) {
            try {
                return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                        .digest(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    /**
     * Trains {@code cfg} for {@code epochs} on {@code rows} with the job's checkpoints: resumed from the job's last
     * checkpoint when it is this training's ({@code retrain} says whose: null for a train job, which may also
     * continue from its spec's parent) and its files are there, else from scratch. A train job and a tune job's
     * retrain of its best trial checkpoint and resume alike: weights, optimizer state, early stopping's state,
     * bit for bit.
     */
    private Trained trainWithCheckpoints(JobSpec spec, JobContext ctx, ConfigAdapter cfg, int epochs, Dataset rows,
                                         RetrainTag retrain) {
        Optional<ObjectNode> ck = ctx.lastCheckpoint().filter(c -> RetrainTag.matches(retrain, c)
                && Files.exists(Path.of(c.path("path").asText(""))) && EarlyStoppingStates.filesPresent(c));
        String what = retrain == null ? "" : "the retrain of trial " + retrain.trial() + " ";
        Progress progress;
        Sequential model;
        ObjectNode parentJson = null;
        int done = 0;
        if (ck.isPresent()) {
            model = Sequential.load(Path.of(ck.get().get("path").asText()));
            done = ck.get().path("epochs").asInt();
            progress = new Progress(this::yieldToInference, ctx, pastEpochs(ctx, ck.get(), done), checkpointPath(ctx),
                    interval(spec));
            progress.recorded = Path.of(ck.get().get("path").asText());
            phase(ctx, "resuming", what + "from the checkpoint after epoch " + done);
            parentJson = ck.get().has("parent") ? (ObjectNode) ck.get().get("parent") : null;
        } else if (retrain == null && spec.parent() != null) {
            int v = resolve(spec.parent(), "/parent");
            parentJson = spec.parent().toJson();
            parentJson.put("version", v);
            model = fromParent(cfg, rows, spec.parent().model(), v);
            progress = new Progress(this::yieldToInference, ctx, null, checkpointPath(ctx), interval(spec));
        } else {
            model = cfg.newResumableModel(rows.numFeatures(), rows.classNames(), rows.size());
            progress = new Progress(this::yieldToInference, ctx, null, checkpointPath(ctx), interval(spec));
        }
        progress.parent = parentJson;
        progress.retrain = retrain == null ? null : retrain.toJson();
        try {
            List<Device> dev = devices(ctx);
            if (!dev.get(0).isCpu()) {
                model.to(dev.get(0));
            }
            boolean stoppedEarly = ck.map(c -> c.path("stopped_early").asBoolean(false)).orElse(false);
            if (epochs - done > 0 && !stoppedEarly) {
                if (retrain == null) {
                    phase(ctx, "training", (epochs - done) + " epochs on " + rows.size() + " rows");
                }
                Fit fit = cfg.fit(epochs, cfg.seed(), progress);
                progress.watch(fit);
                if (ck.isPresent()) {
                    EarlyStoppingStates.resume(ck.get(), progress.stoppers);
                }
                Dataset prepared = cfg.prepare(rows);
                try {
                    // a resumed fit starts at its epoch: it draws the shuffles and dropout masks the
                    // uninterrupted one would have (Trainer), and early stopping continues its patience
                    // window, so the result is the same bits
                    model.fit(prepared, fit.initialEpoch(done));
                } finally {
                    if (prepared != rows) {
                        prepared.close();
                    }
                }
            }
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return new Trained(model, progress.history, parentJson);
    }

    /** Holdout metrics, lineage, registration and promotion of a trained model. */
    private ObjectNode finishModel(JobSpec spec, JobContext ctx, ConfigAdapter cfg, Sequential model, Dataset holdout,
                                   JobSpec.Holdout h, ArrayNode epochs, JsonNode trials, ObjectNode parent,
                                   ObjectNode result) {
        phase(ctx, "evaluating", "on the " + holdout.size() + " holdout rows");
        Evaluation e = evaluateOn(model, holdout);
        ObjectNode metrics = result.putObject("metrics");
        putNumber(metrics, "loss", e.loss());
        putNumber(metrics, "accuracy", e.accuracy());
        if (spec.registerAs() == null) {
            if (!ctx.owner().equals(ADMIN_OWNER)) {
                // a file on the server that only an admin can see (its path) and nothing counts against the token's
                // quota: kept, job after job, it would let a token fill the disk. Its model is kept by registering it.
                result.put("model_kept", false);
                return result;
            }
            // the attempt's own file is the job's result: a lost attempt ending later writes only its own file,
            // which no stored result names (moved to a shared name, it could replace its successor's model)
            Path mine = attemptModelFile(ctx);
            model.trainingInfo().put("lineage", Json.toPlain(lineage(spec, ctx, h, holdout, epochs, trials, parent, e)));
            model.save(mine);
            result.put("model_file", mine.toString());
            return result;
        }
        String name = spec.registerAs();
        String source = JOB_SOURCE + ctx.jobId();
        Optional<ModelVersionInfo> earlier = registry.exists(name) ? registry.versions(name).stream()
                .filter(v -> v.source().equals(source)).findFirst() : Optional.empty();
        int version;
        if (earlier.isPresent()) {
            version = earlier.get().version(); // an earlier attempt registered it, then died before finishing
            phase(ctx, "registering", "version " + version + " was already registered by an earlier attempt");
        } else {
            registrationRefusal(name, ctx.owner()).ifPresent(why -> { // another may have registered since submission
                throw new IllegalStateException(why);
            });
            model.trainingInfo().put("lineage", Json.toPlain(lineage(spec, ctx, h, holdout, epochs, trials, parent, e)));
            Path out = attemptModelFile(ctx);
            model.save(out);
            long size;
            try {
                size = java.nio.file.Files.size(out);
            } catch (java.io.IOException ex) {
                throw new java.io.UncheckedIOException(ex);
            }
            if (ctx.cancelRequested()) {
                // its claim lost (another server may be running it again), cancelled, or the server stopping: a
                // version registered now could be registered twice, or promoted by an attempt that is not the job's
                throw new JobCancelledException();
            }
            // the room is held while the version is written, so that the owner's uploads cannot take it meanwhile
            try (StorageCheck.Hold room = storage.hold(ctx.owner(), size, "registering " + name)) {
                ModelVersionInfo info = registry.register(name, out, RegisterOptions.defaults().source(source)
                        .actor(ctx.owner()).metric("holdout_loss", e.loss()).metric("holdout_accuracy", e.accuracy()));
                room.keep(info.sizeBytes());
                version = info.version();
            }
            phase(ctx, "registered", name + " version " + version);
        }
        ObjectNode reg = result.putObject("registered");
        reg.put("model", name);
        reg.put("version", version);
        if (spec.promoteIfBetter()) {
            result.set("promotion", promote(name, version, e, holdout, spec.promoteMetric(), ctx));
        }
        return result;
    }

    /**
     * Moves {@code stable} to the candidate when its holdout metric is strictly better than the current stable
     * version's on the same rows (or when there is no stable version yet).
     */
    private ObjectNode promote(String name, int candidate, Evaluation candidateEval, Dataset holdout, String metric,
                               JobContext ctx) {
        ObjectNode d = Json.MAPPER.createObjectNode();
        d.put("metric", metric);
        d.put("candidate_version", candidate);
        double cand = metric.equals("accuracy") ? candidateEval.accuracy() : candidateEval.loss();
        putNumber(d, "candidate", cand);
        Optional<Integer> stable = registry.resolveAlias(name, "stable");
        boolean promote;
        if (stable.isEmpty()) {
            promote = true;
            d.put("reason", "there is no stable version yet");
        } else if (stable.get() == candidate) {
            promote = false;
            d.put("stable_version", candidate);
            d.put("reason", "the candidate is already stable");
        } else {
            d.put("stable_version", stable.get());
            try (Sequential current = Sequential.load(registry.modelFile(name, stable.get()))) {
                if (current.inputSize() != holdout.numFeatures() || current.outputSize() != holdoutOutputs(holdout, current)) {
                    promote = false;
                    d.put("reason", "the stable version takes " + current.inputSize() + " features and has "
                            + current.outputSize() + " outputs: it cannot be scored on this holdout, so it stays");
                } else {
                    Evaluation se = evaluateOn(current, holdout);
                    double st = metric.equals("accuracy") ? se.accuracy() : se.loss();
                    putNumber(d, "stable", st);
                    promote = metric.equals("accuracy") ? cand > st : cand < st;
                    d.put("reason", promote ? "the candidate's holdout " + metric + " is better"
                            : "the candidate's holdout " + metric + " is not better than the stable version's");
                }
            }
        }
        if (promote) {
            promoter.setAlias(name, "stable", candidate, ctx.owner());
        }
        d.put("promoted", promote);
        phase(ctx, "promotion", d.get("reason").asText() + (promote ? ": stable -> " + candidate : ": stable unchanged"));
        return d;
    }

    private static int holdoutOutputs(Dataset holdout, Sequential model) {
        if (holdout.hasLabels()) {
            // a sigmoid model with one output scores 2-class labels
            return model.outputSize() == 1 && holdout.numClasses() <= 2 ? 1 : holdout.numClasses();
        }
        return (int) holdout.targets().dim(1);
    }

    private ObjectNode lineage(JobSpec spec, JobContext ctx, JobSpec.Holdout h, Dataset holdout, ArrayNode epochs,
                               JsonNode trials, ObjectNode parent, Evaluation e) {
        ObjectNode l = Json.MAPPER.createObjectNode();
        l.put("job_id", ctx.jobId());
        l.set("job_spec", spec.json());
        l.put("dataset_sha256", spec.datasetSha256());
        ObjectNode hj = h.toJson();
        hj.put("rows", holdout.size());
        l.set("holdout", hj);
        ObjectNode m = l.putObject("holdout_metrics");
        putNumber(m, "loss", e.loss());
        putNumber(m, "accuracy", e.accuracy());
        l.set("epochs", epochs);
        if (trials != null) {
            l.set("trials", trials);
        }
        if (parent != null) {
            l.set("parent", parent);
        } else {
            l.putNull("parent");
        }
        l.put("code_version", CodeVersion.get());
        l.put("trained_by", ctx.owner());
        l.put("finished_at", java.time.Instant.now().toString());
        return l;
    }

    /** Each trial's parameters, state, epochs and score: the part of a tune that belongs in lineage. */
    private static ArrayNode summarize(TuneResult r) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (TrialRecord t : r.trials()) {
            a.add(t.toSummaryJson());
        }
        return a;
    }

    /**
     * The trials of this job's earlier attempts that its search resumes from: those that ended are kept, the rest
     * run again ({@link Tuner#search(Dataset, List)}). Records the search cannot resume from (another code version
     * draws other parameters, a record does not read back) are said in the log, and the search starts again.
     */
    private static List<TrialRecord> resumableTrials(JobContext ctx, Tuner tuner) {
        List<TrialRecord> earlier;
        try {
            earlier = ctx.pastTrials();
        } catch (ConfigException e) {
            phase(ctx, "searching", "the earlier attempt's trials do not read back (" + e.getMessage()
                    + "): the search starts again");
            return List.of();
        }
        if (earlier.isEmpty()) {
            return earlier;
        }
        Optional<String> problem = tuner.resumeProblem(earlier);
        if (problem.isPresent()) {
            phase(ctx, "searching", "the earlier attempt's trials cannot be resumed (" + problem.get()
                    + "): the search starts again");
            return List.of();
        }
        long ended = earlier.stream().filter(t -> t.state().terminal() && t.state() != TrialRecord.State.CANCELLED)
                .count();
        phase(ctx, "resuming", "the search from the earlier attempt's " + earlier.size() + " trials: " + ended
                + " ended and are kept, the others run again");
        return earlier;
    }

    private Sequential fromParent(ConfigAdapter cfg, Dataset fit, String name, int version) {
        try (Sequential parent = Sequential.load(registry.modelFile(name, version))) {
            Sequential m = cfg.newResumableModel(fit.numFeatures(), fit.classNames(), fit.size());
            if (!java.util.Arrays.equals(m.architecture().sizes(), parent.architecture().sizes())) {
                m.close();
                throw new ConfigException("/parent", name + " version " + version + " has layer sizes "
                        + java.util.Arrays.toString(parent.architecture().sizes()) + " but the config builds "
                        + java.util.Arrays.toString(m.architecture().sizes()));
            }
            m.setParameters(parent.parameters());
            if (parent.preprocessing() != null) {
                m.preprocessing(parent.preprocessing());
            }
            return m;
        }
    }

    // ---------------------------------------------------------------------------------------------- evaluate

    private ObjectNode evaluate(JobSpec spec, JobContext ctx, DatasetResolver.Loaded data) {
        int v = resolve(spec.model(), "/model");
        ObjectNode result = Json.MAPPER.createObjectNode();
        result.put("type", "evaluate");
        ObjectNode ref = spec.model().toJson();
        ref.put("version", v);
        result.set("model", ref);
        try (Sequential model = Sequential.load(registry.modelFile(spec.model().model(), v))) {
            Dataset rows;
            Parts parts = null;
            if (spec.holdout() != null) {
                parts = split(data, spec.holdout());
                rows = parts.holdout;
                result.set("rows", spec.holdout().toJson());
            } else {
                rows = data.hasTestSplit() ? data.test() : data.train();
                result.put("rows", data.hasTestSplit() ? "test_split" : "all");
            }
            try {
                if (model.inputSize() != rows.numFeatures()) {
                    throw new ConfigException("/model", spec.model().model() + " version " + v + " takes "
                            + model.inputSize() + " features; the data set has " + rows.numFeatures());
                }
                phase(ctx, "evaluating", rows.size() + " rows");
                Evaluation e = evaluateOn(model, rows);
                result.set("evaluation", Json.tree(e.toMap()));
                return result;
            } finally {
                if (parts != null) {
                    parts.close();
                }
            }
        }
    }

    /** Evaluates with the model's own loss, one-hot encoding labels when that loss takes targets. */
    private static Evaluation evaluateOn(Sequential model, Dataset rows) {
        if (rows.hasLabels() && model.loss() != null && !model.loss().sparseLabels()) {
            boolean binaryColumn = model.outputSize() == 1;
            try (Dataset t = binaryColumn ? binaryTargets(rows) : rows.oneHot()) {
                return model.evaluate(t);
            }
        }
        return model.evaluate(rows);
    }

    private static Dataset binaryTargets(Dataset rows) {
        int[] lab = rows.labels().toIntArray();
        float[][] x = new float[rows.size()][];
        float[][] t = new float[rows.size()][1];
        for (int r = 0; r < x.length; r++) {
            x[r] = rows.features().row(r);
            t[r][0] = lab[r];
        }
        return Dataset.ofTargets(x, t);
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private int resolve(JobSpec.ModelRef ref, String path) {
        if (!registry.exists(ref.model())) {
            throw new ConfigException(path + "/model", "no model '" + ref.model() + "' in the registry");
        }
        if (ref.version().matches("[0-9]+")) {
            int v = Integer.parseInt(ref.version());
            if (!registry.versionNumbers(ref.model()).contains(v)) {
                throw new ConfigException(path + "/version", ref.model() + " has no version " + v);
            }
            return v;
        }
        return registry.resolveAlias(ref.model(), ref.version()).orElseThrow(() ->
                new ConfigException(path + "/version", ref.model() + " has no alias '" + ref.version() + "'"));
    }

    private static JobSpec.Holdout effectiveHoldout(JobSpec.Holdout h, DatasetResolver.Loaded data) {
        if (h == null) {
            return data.hasTestSplit() ? new JobSpec.Holdout(true, 0, 0) : new JobSpec.Holdout(false, 0.1, 0);
        }
        if (h.testSplit() && !data.hasTestSplit()) {
            throw new ConfigException("/dataset/holdout", "the data set has no test split; give {\"fraction\": f}");
        }
        return h;
    }

    /** The rows training may see and the holdout it may not. */
    private record Parts(Dataset fit, Dataset holdout, boolean owned) implements AutoCloseable {
        @Override
        public void close() {
            if (owned) {
                fit.close();
                holdout.close();
            }
        }
    }

    private static Parts split(DatasetResolver.Loaded data, JobSpec.Holdout h) {
        if (h.testSplit()) {
            return new Parts(data.train(), data.test(), false);
        }
        Dataset.Split s = data.train().split(1 - h.fraction(), h.seed());
        if (s.first().size() == 0 || s.second().size() == 0) {
            s.close();
            throw new ConfigException("/dataset/holdout/fraction", "a holdout of " + h.fraction() + " of "
                    + data.train().size() + " rows leaves an empty part");
        }
        return new Parts(s.first(), s.second(), true);
    }

    private static List<Device> devices(JobContext ctx) {
        List<Device> d = new ArrayList<>();
        for (int g : ctx.gpus()) {
            d.add(Device.cuda(g));
        }
        return d.isEmpty() ? List.of(Device.cpu()) : d;
    }

    /**
     * The metrics of the epochs a checkpoint holds: the job's "epoch" events up to it (an epoch an earlier attempt
     * ran past its last checkpoint was run again, and its later event is the one that counts). A checkpoint written
     * before the events were its history carries it itself.
     */
    private static ArrayNode pastEpochs(JobContext ctx, ObjectNode checkpoint, int epochs) {
        if (checkpoint.has("history")) {
            return (ArrayNode) checkpoint.get("history").deepCopy();
        }
        java.util.TreeMap<Integer, ObjectNode> byEpoch = new java.util.TreeMap<>();
        for (ObjectNode e : ctx.pastEvents("epoch")) {
            int epoch = e.path("epoch").asInt();
            if (epoch >= 1 && epoch <= epochs) {
                e.remove(List.of("epochs", "eta_seconds"));
                byEpoch.put(epoch, e);
            }
        }
        ArrayNode a = Json.MAPPER.createArrayNode();
        byEpoch.values().forEach(a::add);
        return a;
    }

    private java.time.Duration interval(JobSpec spec) {
        return spec.checkpointInterval() != null ? spec.checkpointInterval() : checkpointInterval;
    }

    /** Where this attempt writes its model before registering or keeping it: not a name another attempt writes. */
    private static Path attemptModelFile(JobContext ctx) {
        return ctx.workDir().resolve("model-" + ctx.attempt() + ".d4j");
    }

    /**
     * Where this attempt's checkpoints go (two files taken in turn, {@code checkpoint-<attempt>-a.d4j} and
     * {@code -b}). Named by attempt: an attempt whose lease was lost may still be saving while its successor, on
     * another server, resumes from the same directory; with shared names its next save could overwrite the file the
     * successor's record points at, so the successor would resume from weights its record does not count.
     */
    private static Path checkpointPath(JobContext ctx) {
        return ctx.workDir().resolve("checkpoint-" + ctx.attempt() + ".d4j");
    }

    /**
     * Once this attempt's first checkpoint is recorded, nothing points at the earlier attempts' checkpoints (nor at
     * the models they saved before dying): removed, or every restart of a long job left two more model-and-optimizer
     * copies on the disk until the job ended.
     */
    private static void removeEarlierAttemptsFiles(JobContext ctx) {
        java.util.regex.Pattern earlier = java.util.regex.Pattern.compile("(checkpoint|model)-(\\d+)[-.].*");
        try (java.util.stream.Stream<Path> files = Files.list(ctx.workDir())) {
            files.filter(f -> {
                java.util.regex.Matcher m = earlier.matcher(f.getFileName().toString());
                return m.matches() && m.group(2).length() < 10 && Integer.parseInt(m.group(2)) < ctx.attempt();
            }).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (java.io.IOException ex) {
                    // left for the job's end, which removes the whole directory but the kept model
                }
            });
        } catch (java.io.IOException | java.io.UncheckedIOException ex) {
            // as above
        }
    }

    private static void phase(JobContext ctx, String phase, String detail) {
        JobEvent e = JobEvent.of("phase");
        e.payload().put("phase", phase);
        e.payload().put("detail", detail);
        ctx.event(e);
    }

    private static void putNumber(ObjectNode o, String k, double v) {
        if (Double.isFinite(v)) {
            o.put(k, v);
        } else {
            o.putNull(k);
        }
    }

    private static TuneListener tuneListener(JobContext ctx) {
        return new TuneListener() {
            @Override
            public void onTrialStart(TrialRecord trial, int targetEpochs) {
                ctx.trial(trial);
            }

            @Override
            public void onTrialEpoch(int trial, int fold, int totalEpoch, EpochLog log) {
                JobEvent e = JobEvent.of("trial_epoch");
                e.payload().put("trial", trial);
                e.payload().put("fold", fold);
                e.payload().put("epoch", totalEpoch);
                putNumber(e.payload(), "loss", log.loss());
                putNumber(e.payload(), "accuracy", log.accuracy());
                e.payload().put("seconds", log.seconds());
                ctx.event(e);
            }

            @Override
            public void onTrialResult(TrialRecord trial) {
                ctx.trial(trial);
                JobEvent e = JobEvent.of("trial");
                e.payload().setAll(trial.toSummaryJson()); // the full record is the trials table's (ctx.trial)
                ctx.event(e);
            }
        };
    }

    /**
     * Reports progress (rate-limited), per-epoch metrics and ETA; checks for cancellation between chunks; saves a
     * checkpoint when its {@link CheckpointSchedule} says, when it has a path. Epochs are the fit's own (a resumed fit starts at its
     * {@code initialEpoch}), reported 1-based.
     */
    private static final class Progress implements Callback {
        private static final long MIN_INTERVAL_NANOS = 1_000_000_000L;
        private final Runnable yieldToInference;
        private final JobContext ctx;
        final ArrayNode history;
        private final Path checkpoint;
        private final java.time.Duration checkpointInterval;
        private CheckpointSchedule schedule;
        Path recorded; // the checkpoint file the job's last record points to: the next save goes to the other one
        private boolean earlierAttemptsCleaned;
        ObjectNode parent;
        ObjectNode retrain; // a tune job's retrain: whose checkpoints these are (RetrainTag)
        List<EarlyStopping> stoppers = List.of(); // the fit's early stopping, whose state each checkpoint keeps
        private int firstEpoch;
        private int epochs;
        private int stepsPerEpoch;
        private long start;
        private long lastReport;

        Progress(Runnable yieldToInference, JobContext ctx, ArrayNode history, Path checkpoint,
                 java.time.Duration checkpointInterval) {
            this.yieldToInference = yieldToInference;
            this.ctx = ctx;
            this.history = history == null ? Json.MAPPER.createArrayNode() : history;
            this.checkpoint = checkpoint;
            this.checkpointInterval = checkpointInterval;
        }

        /** Checkpoints keep the state of {@code fit}'s early stopping. */
        void watch(Fit fit) {
            stoppers = fit.callbacks().stream().filter(c -> c instanceof EarlyStopping).map(c -> (EarlyStopping) c)
                    .toList();
        }

        @Override
        public void onTrainBegin(TrainableModel model, Fit fit, int stepsPerEpoch) {
            this.firstEpoch = fit.initialEpoch();
            this.epochs = fit.epochs();
            this.stepsPerEpoch = stepsPerEpoch;
            this.start = System.nanoTime();
            this.schedule = new CheckpointSchedule(checkpointInterval, start);
            if (ctx.cancelRequested()) {
                throw new JobCancelledException();
            }
        }

        @Override
        public int maxStepsPerCall() {
            return Trainer.STEPS_PER_CALL; // short chunks: the wait for inference above comes between them
        }

        @Override
        public void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {
            if (ctx.cancelRequested()) {
                throw new JobCancelledException();
            }
            yieldToInference.run(); // before the next chunk: serving first, a bounded wait
            long now = System.nanoTime();
            if (now - lastReport < MIN_INTERVAL_NANOS) {
                return;
            }
            lastReport = now;
            long done = (long) (epoch - firstEpoch) * stepsPerEpoch + stepsDone;
            long total = (long) (epochs - firstEpoch) * stepsPerEpoch;
            JobEvent e = JobEvent.of("progress");
            e.payload().put("epoch", epoch + 1);
            e.payload().put("epochs", epochs);
            e.payload().put("step", stepsDone);
            e.payload().put("steps", stepsPerEpoch);
            putNumber(e.payload(), "loss", loss);
            putNumber(e.payload(), "accuracy", accuracy);
            double elapsed = (now - start) / 1e9;
            putNumber(e.payload(), "eta_seconds", done == 0 ? Double.NaN : elapsed / done * (total - done));
            ctx.event(e);
        }

        @Override
        public boolean onEpochEnd(TrainableModel model, EpochLog log) {
            ObjectNode m = Json.MAPPER.createObjectNode();
            m.put("epoch", log.epoch() + 1);
            putNumber(m, "loss", log.loss());
            putNumber(m, "accuracy", log.accuracy());
            putNumber(m, "val_loss", log.valLoss());
            putNumber(m, "val_accuracy", log.valAccuracy());
            putNumber(m, "learning_rate", log.learningRate());
            m.put("seconds", log.seconds());
            history.add(m);
            // the event is the epoch's durable record (the job log), written before the checkpoint that counts it
            JobEvent e = new JobEvent("epoch", m.deepCopy());
            e.payload().put("epochs", epochs);
            double elapsed = (System.nanoTime() - start) / 1e9;
            int left = epochs - log.epoch() - 1;
            putNumber(e.payload(), "eta_seconds", elapsed / (log.epoch() + 1 - firstEpoch) * left);
            ctx.event(e);
            // the fit's last epoch (its end, or early stopping's) is checkpointed by onTrainEnd, after early
            // stopping has restored its best weights: that is the model a resumed job must continue from
            boolean ending = log.epoch() + 1 >= epochs
                    || stoppers.stream().anyMatch(s -> s.epochsWithoutImprovement() > s.patience());
            long now = System.nanoTime();
            if (checkpoint != null && !ending && schedule.due(log.epoch() + 1, epochs, now)) {
                saveCheckpoint(model, log.epoch() + 1, false);
                schedule.saved(now);
            }
            return false;
        }

        @Override
        public void onTrainEnd(TrainableModel model, History h) {
            if (checkpoint != null && !h.cancelled() && !h.epochs().isEmpty()) {
                saveCheckpoint(model, h.last().epoch() + 1, h.stoppedEarly());
            }
        }

        /**
         * Two checkpoint files taken in turn: each save goes to the one the job's record does not point at, and the
         * record moves to it once it is written. A process killed between the save and the record (with one file,
         * overwritten, the file could hold epoch N+1's weights while the record still counted N) leaves the record
         * on a file holding exactly the epochs it counts, so a resumed job ends with the uninterrupted run's weights.
         * Early stopping's state goes with it (its best weights in a file of the same slot).
         */
        private void saveCheckpoint(TrainableModel model, int epochsDone, boolean stoppedEarly) {
            String stem = checkpoint.getFileName().toString().replaceFirst("\\.d4j$", "");
            Path a = checkpoint.resolveSibling(stem + "-a.d4j");
            Path file = a.equals(recorded) ? checkpoint.resolveSibling(stem + "-b.d4j") : a;
            model.save(file, true);
            ObjectNode ck = checkpointJson(file, epochsDone, stoppedEarly);
            if (!stoppers.isEmpty()) {
                ck.set("early_stopping", EarlyStoppingStates.save(stoppers, EarlyStoppingStates.weightsFile(file)));
            }
            ctx.checkpointed(ck);
            recorded = file;
            if (!earlierAttemptsCleaned && !ctx.cancelRequested()) {
                earlierAttemptsCleaned = true;
                removeEarlierAttemptsFiles(ctx);
            }
        }

        /** Where the checkpoint is and how many epochs it holds: bounded, whatever the epoch count. */
        private ObjectNode checkpointJson(Path file, int epochsDone, boolean stoppedEarly) {
            ObjectNode ck = Json.MAPPER.createObjectNode();
            ck.put("path", file.toString());
            ck.put("epochs", epochsDone);
            if (parent != null) {
                ck.set("parent", parent);
            }
            if (retrain != null) {
                ck.set("retrain", retrain);
            }
            if (stoppedEarly) {
                ck.put("stopped_early", true);
            }
            return ck;
        }
    }
}
