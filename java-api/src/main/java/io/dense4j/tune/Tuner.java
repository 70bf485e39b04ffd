package io.dense4j.tune;

import com.fasterxml.jackson.core.JsonPointer;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.ThreadTeam;
import io.dense4j.data.Dataset;
import io.dense4j.tensor.Device;
import io.dense4j.train.Callback;
import io.dense4j.train.CrossValidation;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Evaluation;
import io.dense4j.train.History;
import io.dense4j.train.Loss;
import io.dense4j.train.TrainableModel;
import io.dense4j.train.Trainer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Hyperparameter search over a model + training config (JSON), usable from the Java API without a server:
 *
 * <pre>{@code
 * TuneSpec spec = TuneSpec.parse(Json.parse(specJson), ConfigAdapter.parse(config));
 * TuneResult r = new Tuner(spec, config).search(trainRows);
 * try (Sequential best = new Tuner(spec, config).retrain(r.best().orElseThrow(), trainRows)) { best.save(...); }
 * }</pre>
 *
 * <p>Trials run on {@code max_parallel_trials} worker threads. Each worker holds its own copy of the objective's
 * data (a native data set is not safe to read from two threads at once) and, with {@link Options#devices}, its
 * own device (worker i uses device i mod n). A trial's k folds train {@code threads_per_trial} at a time. With
 * {@link Options#cpus} each model trained at once runs its kernels on a private {@link ThreadTeam} of an equal share
 * of those cpus (at least 1); without, on the caller's threads setting. So a search uses at most
 * {@code max(cpus, max_parallel_trials * threads_per_trial)} threads.
 *
 * <p>The objective is the validation metric of a holdout split of the rows, or the mean over k folds cut
 * exactly as {@link CrossValidation#kFold} cuts them (the same folds, models, seeds and results for a trial
 * trained in one go). With successive halving a promoted trial continues from where it stopped: its models
 * (weights, optimizer state and step) are kept in memory between rungs and trained for the further epochs only.
 * A continued fit starts at the epoch it stopped at ({@code initialEpoch}), drawing the shuffles and dropout masks a
 * single fit would, and per-epoch step decay is run as the equivalent per-step staircase: a promoted trial ends
 * with the weights of the same trial trained to its epochs in one go, bit for bit.
 */
public final class Tuner {
    /**
     * Where trials run, who hears about them, when to stop, and the CPU threads the search may use ({@code cpus}:
     * each model trained at once gets an equal share as its private {@link ThreadTeam}; 0, the default, leaves the
     * threads as the caller has them). {@code pausedModelBytes}: what the fold models of paused trials (kept to
     * continue from, when promoted) may hold in all, parameters and optimizer state; past it the least promising
     * give theirs up and, promoted, train again from the start, to the same weights ({@link #DEFAULT_PAUSED_MODEL_BYTES}).
     */
    public record Options(List<Device> devices, TuneListener listener, BooleanSupplier cancelled, int cpus,
                          long pausedModelBytes) {
        /** 1 GiB: ~600 paused models of the reference network; successive halving pauses most trials. */
        public static final long DEFAULT_PAUSED_MODEL_BYTES = 1L << 30;

        public Options {
            devices = devices == null || devices.isEmpty() ? List.of(Device.cpu()) : List.copyOf(devices);
            listener = listener == null ? TuneListener.NONE : listener;
            cancelled = cancelled == null ? () -> false : cancelled;
            if (cpus < 0) {
                throw new IllegalArgumentException("cpus must be >= 0, got " + cpus);
            }
            if (pausedModelBytes < 0) {
                throw new IllegalArgumentException("pausedModelBytes must be >= 0, got " + pausedModelBytes);
            }
        }

        public Options(List<Device> devices, TuneListener listener, BooleanSupplier cancelled, int cpus) {
            this(devices, listener, cancelled, cpus, DEFAULT_PAUSED_MODEL_BYTES);
        }

        public Options(List<Device> devices, TuneListener listener, BooleanSupplier cancelled) {
            this(devices, listener, cancelled, 0);
        }

        public Options withCpus(int n) {
            return new Options(devices, listener, cancelled, n, pausedModelBytes);
        }

        public Options withPausedModelBytes(long bytes) {
            return new Options(devices, listener, cancelled, cpus, bytes);
        }

        public static Options defaults() {
            return new Options(null, null, null);
        }

        public Options withListener(TuneListener l) {
            return new Options(devices, l, cancelled, cpus, pausedModelBytes);
        }

        public Options withCancellation(BooleanSupplier c) {
            return new Options(devices, listener, c, cpus, pausedModelBytes);
        }

        public Options withDevices(List<Device> d) {
            return new Options(d, listener, cancelled, cpus, pausedModelBytes);
        }
    }

    private final TuneSpec spec;
    private final JsonNode baseConfig;
    private final ConfigAdapter base;
    private final Options options;

    public Tuner(TuneSpec spec, JsonNode baseConfig) {
        this(spec, baseConfig, Options.defaults());
    }

    public Tuner(TuneSpec spec, JsonNode baseConfig, Options options) {
        this.spec = spec;
        this.baseConfig = baseConfig.deepCopy();
        this.base = ConfigAdapter.parse(baseConfig);
        this.options = options;
        validate();
    }

    /**
     * Checks what can be checked before any training: the metric suits the loss, and the first trials' configs
     * (every pointer resolves, every value is accepted) parse, so a wrong path fails at submission, not 16 times.
     */
    private void validate() {
        if (spec.metric().equals("accuracy") && base.loss() == Loss.MEAN_SQUARED_ERROR
                && spec.space().parameters().stream().noneMatch(p -> p.path().equals("/loss"))) {
            throw new ConfigException("/metric", "accuracy is not defined for mean_squared_error; use loss");
        }
        // a condition on a path that neither the config nor a search parameter has never holds: its parameter
        // would silently never be searched (a misspelt "when" pointer)
        for (SearchSpace.Parameter p : spec.space().parameters()) {
            for (JsonPointer c : p.when().keySet()) {
                boolean searched = spec.space().parameters().stream().anyMatch(o -> o != p
                        && (o.pointer().toString().equals(c.toString()) || c.toString().startsWith(o.pointer() + "/")
                        || o.pointer().toString().startsWith(c + "/")));
                if (!searched && baseConfig.at(c).isMissingNode()) {
                    throw new ConfigException(SearchSpace.keyPath("/search_space", p.path()) + "/when",
                            "'" + c + "' names no field of the config and no search parameter: the condition would never "
                                    + "hold, and " + p.path() + " would never be searched");
                }
            }
        }
        Sampler sampler = spec.sampler();
        long probe = Math.min(sampler.size(), 4);
        ConfigException last = null;
        int ok = 0;
        for (long i = 0; i < probe; i++) {
            try {
                ConfigAdapter.parse(spec.space().assignValues(baseConfig, sampler.values(i)).config());
                ok++;
            } catch (ConfigException e) {
                last = e;
            }
        }
        if (ok == 0 && last != null) {
            throw new ConfigException("/search_space", "the first trials' configs are invalid: " + last.getMessage());
        }
    }

    public TuneSpec spec() {
        return spec;
    }

    // ------------------------------------------------------------------------------------------ search

    /**
     * Runs the search on {@code data} (the caller keeps ownership). Failed trials are recorded with their error;
     * the search itself fails only when cancelled ({@link CancellationException}) or on a bad data set.
     */
    public TuneResult search(Dataset data) {
        return search(data, List.of());
    }

    /**
     * Resumes a search that was interrupted (its process died), on the same data with the same spec and config:
     * {@code earlier} holds the last record of each of its trials (what {@link TuneListener} reported, as a job's
     * store keeps it). Trials that ended (completed, stopped, failed) are kept as they were and never run again;
     * paused ones keep their rung results and may still be promoted (their models, lost with the process, are trained
     * again from the start, which reaches the same weights); those that were running, or cancelled, run again from
     * their last rung. New trials get the configs the uninterrupted search draws next (the sampler's sequence): the
     * same seed gives the same remaining configs, and with one trial at a time the same decisions and the same best.
     * An empty {@code earlier} is a fresh search.
     *
     * @throws IllegalArgumentException {@code earlier} is not from this search ({@link #resumeProblem} says why),
     *     before anything is trained
     */
    public TuneResult search(Dataset data, List<TrialRecord> earlier) {
        base.checkData(data);
        long t0 = System.nanoTime();
        TuneSpec.Halving h = spec.halving();
        SuccessiveHalving sh = h == null ? SuccessiveHalving.none(base.epochs(), spec.maxTrials(), spec.maximize())
                : new SuccessiveHalving(h.rungs(), h.reductionFactor(), h.asynchronous(), spec.maxTrials(), spec.maximize());
        int workers = (int) Math.min(spec.maxParallelTrials(), Math.min(spec.maxTrials(), spec.sampler().size()));
        Sampler sampler = spec.sampler();
        Map<Integer, Trial> trials = new LinkedHashMap<>();
        List<WorkerData> data_ = new ArrayList<>();
        List<ExecutorService> pools = new ArrayList<>();
        BlockingQueue<Trial> finished = new LinkedBlockingQueue<>();
        Deque<Integer> free = new ArrayDeque<>();
        SamplerCursor cursor = new SamplerCursor(sampler);
        restore(earlier, cursor, sh, trials, data);
        boolean cancelled = false;
        try {
            for (int w = 0; w < workers; w++) {
                data_.add(WorkerData.of(data, spec.objective()));
                int id = w;
                pools.add(Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "tune-worker-" + id);
                    t.setDaemon(true);
                    return t;
                }));
                free.add(w);
            }
            int inFlight = 0;
            while (true) {
                if (!cancelled && options.cancelled().getAsBoolean()) {
                    cancelled = true;
                    sh.stopStarting();
                }
                if (!cancelled && !cursor.hasNext()) {
                    sh.noMoreTrials();
                }
                SuccessiveHalving.Decision d = free.isEmpty() ? new SuccessiveHalving.Wait() : sh.next();
                if (cancelled && d instanceof SuccessiveHalving.Promote p) {
                    // a cancelled search promotes nothing: the promotion is recorded as failed at once
                    sh.fail(p.trial());
                    continue;
                }
                if (cancelled && d instanceof SuccessiveHalving.Start s) {
                    // only a resumed trial starts after cancellation: it does not run again
                    sh.fail(s.trial());
                    continue;
                }
                if (d instanceof SuccessiveHalving.Start s && trials.containsKey(s.trial())) {
                    // a resumed search's trial that was running when it stopped: it runs again
                    dispatch(trials.get(s.trial()), s.epochs(), free.poll(), pools, data_, finished);
                    inFlight++;
                } else if (d instanceof SuccessiveHalving.Start s) {
                    Object next = cursor.next();
                    SearchSpace.Assignment a = next instanceof SearchSpace.Assignment x ? x
                            : (SearchSpace.Assignment) ((Object[]) next)[0];
                    Trial trial = new Trial(s.trial(), a);
                    trials.put(trial.id, trial);
                    try {
                        if (next instanceof Object[] bad) {
                            throw (ConfigException) bad[1];
                        }
                        trial.adapter = ConfigAdapter.parse(a.config());
                        trial.adapter.checkData(data);
                        int folds = spec.objective().folds();
                        if (h == null && (long) folds * trial.adapter.epochs() > TuneSpec.MAX_FOLD_EPOCHS) {
                            throw new ConfigException("/fit/epochs", folds + " folds x " + trial.adapter.epochs()
                                    + " epochs; at most " + TuneSpec.MAX_FOLD_EPOCHS + " fold-epochs a trial");
                        }
                    } catch (ConfigException e) {
                        trial.fail("invalid config: " + e.getMessage());
                        sh.fail(trial.id);
                        options.listener().onTrialResult(trial.snapshot());
                        continue;
                    }
                    dispatch(trial, s.epochs(), free.poll(), pools, data_, finished);
                    inFlight++;
                } else if (d instanceof SuccessiveHalving.Promote p) {
                    dispatch(trials.get(p.trial()), p.epochs(), free.poll(), pools, data_, finished);
                    inFlight++;
                } else if (d instanceof SuccessiveHalving.Wait) {
                    if (inFlight == 0) {
                        throw new IllegalStateException("the search waits with nothing running");
                    }
                    Trial t = finished.poll(200, TimeUnit.MILLISECONDS);
                    if (t == null) {
                        continue; // re-check cancellation
                    }
                    inFlight--;
                    free.add(t.worker);
                    settle(t, sh, trials);
                } else {
                    break;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            cancelled = true;
            throw new CancellationException("the search was interrupted");
        } finally {
            for (ExecutorService p : pools) {
                p.shutdownNow();
            }
            // The trials still running read their models and the fold data natively, and native training does not
            // stop for an interrupt: nothing is freed before every worker has returned. The wait itself is not
            // interruptible (an interrupt here, or one already pending, used to end it at once and free what the
            // workers were training: a JVM crash); after an hour, what is still in use is left allocated instead.
            boolean interrupted = false;
            boolean allReturned = true;
            for (ExecutorService p : pools) {
                long deadline = System.nanoTime() + TimeUnit.HOURS.toNanos(1);
                for (;;) {
                    try {
                        allReturned &= p.awaitTermination(Math.max(0, deadline - System.nanoTime()),
                                TimeUnit.NANOSECONDS);
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            }
            for (Trial t : trials.values()) {
                // a cancelled (or interrupted) search leaves its paused trials paused: resumed, it may promote them
                if (t.state == TrialRecord.State.PAUSED && !cancelled) {
                    t.state = TrialRecord.State.STOPPED;
                    options.listener().onTrialResult(t.snapshot());
                }
                if (allReturned) {
                    t.closeModels();
                }
            }
            if (allReturned) {
                data_.forEach(WorkerData::close);
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        List<TrialRecord> records = new ArrayList<>();
        trials.values().forEach(t -> records.add(t.snapshot()));
        int best = sh.best();
        TuneResult result = new TuneResult(records, best < 0 ? Optional.empty() : Optional.of(trials.get(best).snapshot()),
                spec.metric(), spec.maximize(), sampler.description(), spec.objective().describe(), sh.rungs(),
                (System.nanoTime() - t0) / 1e9);
        if (cancelled) {
            throw new TuneCancelledException(result);
        }
        options.listener().onSearchEnd(result);
        return result;
    }

    /**
     * Why {@code earlier} cannot resume this search (not its trials: other parameters or rungs, more trials than it
     * runs, a record that does not read back), or empty when it can. Trains nothing.
     */
    public Optional<String> resumeProblem(List<TrialRecord> earlier) {
        TuneSpec.Halving h = spec.halving();
        SuccessiveHalving sh = h == null ? SuccessiveHalving.none(base.epochs(), spec.maxTrials(), spec.maximize())
                : new SuccessiveHalving(h.rungs(), h.reductionFactor(), h.asynchronous(), spec.maxTrials(), spec.maximize());
        try {
            restore(earlier, new SamplerCursor(spec.sampler()), sh, new LinkedHashMap<>(), null);
            return Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.of(e.getMessage());
        }
    }

    /**
     * Puts the trials of an interrupted search back: the sampler replayed to each (its parameters must be those
     * recorded), its results into the halving state, those still to run with their configs parsed. Records after
     * a gap in the trial numbers are left out: those trials are drawn and run again. {@code data} null: check only.
     */
    private void restore(List<TrialRecord> earlier, SamplerCursor cursor, SuccessiveHalving sh,
                         Map<Integer, Trial> trials, Dataset data) {
        List<TrialRecord> byId = new ArrayList<>(earlier);
        byId.sort(java.util.Comparator.comparingInt(TrialRecord::id));
        int[] rungs = sh.rungs();
        for (int i = 0; i < byId.size() && byId.get(i).id() == i; i++) {
            TrialRecord r = byId.get(i);
            if (i >= spec.maxTrials() || !cursor.hasNext()) {
                throw new IllegalArgumentException("trial " + i + " was recorded, but this search runs only " + i
                        + " trials");
            }
            Object next = cursor.next();
            SearchSpace.Assignment a = next instanceof SearchSpace.Assignment x ? x
                    : (SearchSpace.Assignment) ((Object[]) next)[0];
            if (!Json.write(a.values()).equals(Json.write(r.values()))) {
                throw new IllegalArgumentException("trial " + i + " was recorded with " + Json.write(r.values())
                        + " but this search draws " + Json.write(a.values()) + " for it: not the same search");
            }
            if (r.rungs().size() > rungs.length) {
                throw new IllegalArgumentException("trial " + i + " reported at " + r.rungs().size()
                        + " rungs; this search has " + rungs.length);
            }
            double[] scores = new double[r.rungs().size()];
            for (int k = 0; k < scores.length; k++) {
                TrialRecord.RungResult rr = r.rungs().get(k);
                if (rr.rung() != k || rr.epochs() != rungs[k]) {
                    throw new IllegalArgumentException("trial " + i + " reported rung " + rr.rung() + " at "
                            + rr.epochs() + " epochs where this search's rung " + k + " is at " + rungs[k]);
                }
                scores[k] = rr.score();
            }
            SuccessiveHalving.Restored how = switch (r.state()) {
                case COMPLETED, STOPPED -> SuccessiveHalving.Restored.DONE;
                case FAILED -> SuccessiveHalving.Restored.FAILED;
                case PAUSED -> SuccessiveHalving.Restored.PAUSED;
                case RUNNING, CANCELLED -> SuccessiveHalving.Restored.RUNNING;
            };
            boolean invalid = next instanceof Object[];
            if (invalid && how != SuccessiveHalving.Restored.FAILED) {
                throw new IllegalArgumentException("trial " + i + " draws an invalid config here but was "
                        + r.state().jsonName() + " before");
            }
            sh.restore(i, scores, how);
            Trial t = new Trial(i, a);
            t.state = how == SuccessiveHalving.Restored.RUNNING ? TrialRecord.State.RUNNING : r.state();
            t.error = how == SuccessiveHalving.Restored.RUNNING ? null : r.error();
            t.epochs = scores.length == 0 ? 0 : rungs[scores.length - 1];
            t.score = scores.length == 0 ? Double.NaN : scores[scores.length - 1];
            t.rungs.addAll(r.rungs());
            t.seconds = r.seconds();
            if (data != null && (how == SuccessiveHalving.Restored.RUNNING || how == SuccessiveHalving.Restored.PAUSED)) {
                t.adapter = ConfigAdapter.parse(a.config());
                t.adapter.checkData(data);
            }
            trials.put(i, t);
        }
    }

    /** A cancelled search, with what it had found so far. */
    public static final class TuneCancelledException extends CancellationException {
        private final transient TuneResult partial;

        TuneCancelledException(TuneResult partial) {
            super("the search was cancelled after " + partial.trials().size() + " trials");
            this.partial = partial;
        }

        public TuneResult partial() {
            return partial;
        }
    }

    /** Records a trial's rung result with the halving state and closes models that can no longer be promoted. */
    private void settle(Trial t, SuccessiveHalving sh, Map<Integer, Trial> trials) {
        if (t.state == TrialRecord.State.FAILED || t.state == TrialRecord.State.CANCELLED) {
            sh.fail(t.id);
            t.closeModels();
        } else {
            sh.report(t.id, t.score);
            t.state = sh.lastRung(t.id) == sh.rungs().length - 1 ? TrialRecord.State.COMPLETED
                    : TrialRecord.State.PAUSED;
        }
        for (Trial o : trials.values()) {
            if (o.state == TrialRecord.State.PAUSED && !sh.mayBePromoted(o.id) && !sh.isRunning(o.id)) {
                o.state = TrialRecord.State.STOPPED;
                o.closeModels();
                if (o != t) {
                    options.listener().onTrialResult(o.snapshot());
                }
            } else if (o.state == TrialRecord.State.COMPLETED) {
                o.closeModels();
            }
        }
        // Paused trials keep their fold models to continue from them when promoted; past the budget the least
        // promising give theirs up (promoted, such a trial trains again from the start and reaches the same
        // weights: a continued fit draws what a single fit draws). Without it successive halving kept every
        // paused trial's models until the search ended.
        List<Trial> keeping = new ArrayList<>();
        for (Trial o : trials.values()) {
            if (o.state == TrialRecord.State.PAUSED && o.models != null && !sh.isRunning(o.id)) {
                keeping.add(o);
            }
        }
        keeping.sort(java.util.Comparator.comparingDouble(o -> spec.maximize() ? -o.score : o.score)); // NaN last
        long kept = 0;
        for (Trial o : keeping) {
            long bytes = o.modelBytes();
            if (kept + bytes > options.pausedModelBytes()) {
                o.closeModels();
            } else {
                kept += bytes;
            }
        }
        options.listener().onTrialResult(t.snapshot());
    }

    private void dispatch(Trial trial, int targetEpochs, int worker, List<ExecutorService> pools,
                          List<WorkerData> data, BlockingQueue<Trial> finished) {
        trial.worker = worker;
        trial.state = TrialRecord.State.RUNNING;
        options.listener().onTrialStart(trial.snapshot(), targetEpochs);
        pools.get(worker).execute(() -> {
            try {
                advance(trial, targetEpochs, data.get(worker), options.devices().get(worker % options.devices().size()),
                        pools.size());
            } catch (CancellationException e) {
                trial.state = TrialRecord.State.CANCELLED;
                trial.error = "cancelled";
            } catch (RuntimeException | Error e) {
                trial.fail(ConfigException.reasonOf(e));
            } finally {
                finished.add(trial);
            }
        });
    }

    /** Trains every fold model of the trial to {@code targetEpochs} and scores it (runs on the worker thread). */
    private void advance(Trial trial, int targetEpochs, WorkerData data, Device device, int workers) {
        long t0 = System.nanoTime();
        ConfigAdapter cfg = trial.adapter;
        int from = trial.epochs;
        int folds = data.folds.size();
        if (trial.models == null) {
            trial.models = new Sequential[folds];
        }
        FoldOutcome[] out = new FoldOutcome[folds];
        int threads = Math.min(spec.threadsPerTrial(), folds);
        int team = options.cpus() == 0 ? 0 : Math.max(1, options.cpus() / (workers * threads)); // each model's share
        List<Thread> helpers = new ArrayList<>();
        RuntimeException[] failure = new RuntimeException[1];
        for (int g = 1; g < threads; g++) {
            int group = g;
            Thread th = new Thread(() -> {
                try (ThreadTeam t = team > 0 ? Dense4J.threadTeam(team) : null) {
                    for (int f = group; f < folds; f += threads) {
                        out[f] = trainFold(trial, f, from, targetEpochs, data, device);
                    }
                } catch (RuntimeException e) {
                    synchronized (failure) {
                        failure[0] = failure[0] == null ? e : failure[0];
                    }
                }
            }, Thread.currentThread().getName() + "-fold-" + g);
            th.setDaemon(true);
            th.start();
            helpers.add(th);
        }
        RuntimeException mine = null;
        try (ThreadTeam t = team > 0 ? Dense4J.threadTeam(team) : null) {
            for (int f = 0; f < folds; f += threads) {
                out[f] = trainFold(trial, f, from, targetEpochs, data, device);
            }
        } catch (RuntimeException e) {
            mine = e;
        }
        // every helper is waited for, interrupted or not: the caller frees the models and data they train
        boolean interrupted = false;
        for (Thread th : helpers) {
            for (;;) {
                try {
                    th.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted");
        }
        RuntimeException err = mine != null ? mine : failure[0];
        if (err != null) {
            throw err;
        }
        List<CrossValidation.FoldResult> results = new ArrayList<>();
        List<Map<String, List<Double>>> histories = new ArrayList<>();
        for (int f = 0; f < folds; f++) {
            results.add(out[f].result);
            histories.add(out[f].result.history().asMap());
        }
        CrossValidation.Report report = new CrossValidation.Report(results);
        double score = spec.metric().equals("accuracy") ? report.meanAccuracy() : report.meanLoss();
        double seconds = (System.nanoTime() - t0) / 1e9;
        trial.epochs = targetEpochs;
        trial.score = score;
        trial.seconds += seconds;
        trial.rungs.add(new TrialRecord.RungResult(trial.rungs.size(), targetEpochs, report.meanLoss(), report.stdLoss(),
                report.meanAccuracy(), report.stdAccuracy(), score, histories, seconds));
        trial.lastReport = report;
    }

    private record FoldOutcome(CrossValidation.FoldResult result) {}

    /** The epochs of {@code h} from {@code epoch} on: a rung's own epochs. */
    private static History epochsFrom(History h, int epoch) {
        History out = new History();
        h.epochs().stream().filter(e -> e.epoch() >= epoch).forEach(out::add);
        if (h.stoppedEarly()) {
            out.markStoppedEarly();
        }
        return out;
    }

    private FoldOutcome trainFold(Trial trial, int fold, int from, int target, WorkerData data, Device device) {
        ConfigAdapter cfg = trial.adapter;
        Dataset train = data.folds.get(fold).train();
        Dataset test = data.folds.get(fold).test();
        Sequential m = trial.models[fold];
        int start = from;
        if (m == null) {
            // new, or a trial whose models died with the process (a resumed search) or were given up (the paused
            // models' budget): trained again from the start, it reaches the weights it had (a continued fit draws
            // what a single fit draws)
            if (from > 0) {
                rebuiltModels.incrementAndGet();
            }
            m = cfg.newResumableModel(train.numFeatures(), train.classNames(), train.size());
            trial.models[fold] = m;
            start = 0;
        }
        if (!device.equals(m.device())) {
            m.to(device);
        }
        Callback watch = new Callback() {
            @Override
            public void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {
                if (options.cancelled().getAsBoolean()) {
                    throw new CancellationException("cancelled");
                }
            }

            @Override
            public int maxStepsPerCall() {
                return Trainer.STEPS_PER_CALL; // options.cancelled() may give the CPU away (the job service's yield)
            }

            @Override
            public boolean onEpochEnd(TrainableModel model, EpochLog log) {
                if (log.epoch() >= from) { // epochs trained again to rebuild a lost model were reported before
                    options.listener().onTrialEpoch(trial.id, fold, log.epoch() + 1, log);
                }
                return false;
            }
        };
        Dataset preparedTrain = cfg.prepare(train);
        Dataset preparedTest = cfg.prepare(test);
        try {
            // a continued fit starts at its epoch: the shuffles and dropout masks of a fit of `target` epochs
            History h = m.fit(preparedTrain, cfg.fit(target, cfg.seed(), watch).initialEpoch(start));
            if (start < from) {
                h = epochsFrom(h, from);
            }
            Evaluation e = m.evaluate(preparedTest);
            return new FoldOutcome(new CrossValidation.FoldResult(fold, train.size(), test.size(), e.loss(),
                    e.accuracy(), h));
        } finally {
            if (preparedTrain != train) {
                preparedTrain.close();
            }
            if (preparedTest != test) {
                preparedTest.close();
            }
        }
    }

    // ------------------------------------------------------------------------------------------ retrain

    /**
     * Trains the trial's config on all of {@code data} (the search's holdout or folds included) for the epochs the
     * trial was scored at, from scratch with the config's seed. The caller owns (and closes) the model.
     */
    public Sequential retrain(TrialRecord trial, Dataset data, Callback... callbacks) {
        ConfigAdapter cfg = ConfigAdapter.parse(trial.config());
        cfg.checkData(data);
        int epochs = retrainEpochs(trial);
        Sequential m = cfg.newModel(data.numFeatures(), data.classNames());
        Dataset prepared = cfg.prepare(data);
        try {
            Device d = options.devices().get(0);
            if (!d.isCpu()) {
                m.to(d);
            }
            m.fit(prepared, cfg.fit(epochs, cfg.seed(), callbacks));
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        } finally {
            if (prepared != data) {
                prepared.close();
            }
        }
    }

    /**
     * The epochs {@link #retrain} trains {@code trial}'s config for: those the trial was scored at under successive
     * halving (a stopped trial was not trained further), else the config's.
     */
    public int retrainEpochs(TrialRecord trial) {
        return spec.halving() == null ? ConfigAdapter.parse(trial.config()).epochs() : trial.epochs();
    }

    // ------------------------------------------------------------------------------------------ internals

    /** One trial's mutable state; touched by one thread at a time (the worker while running, else the tuner). */
    /** Fold models trained again from the start to continue a trial (how often the budget or a restart cost). */
    final java.util.concurrent.atomic.AtomicInteger rebuiltModels = new java.util.concurrent.atomic.AtomicInteger();

    private final class Trial {
        final int id;
        final SearchSpace.Assignment assignment;
        ConfigAdapter adapter;
        Sequential[] models;
        int epochs;
        double score = Double.NaN;
        final List<TrialRecord.RungResult> rungs = new ArrayList<>();
        TrialRecord.State state = TrialRecord.State.RUNNING;
        String error;
        double seconds;
        int worker;
        CrossValidation.Report lastReport;

        Trial(int id, SearchSpace.Assignment assignment) {
            this.id = id;
            this.assignment = assignment;
        }

        void fail(String message) {
            state = TrialRecord.State.FAILED;
            error = message;
        }

        /** What its fold models hold: parameters, gradients and two optimizer state slots, 4 bytes each. */
        long modelBytes() {
            long n = 0;
            if (models != null) {
                for (Sequential m : models) {
                    if (m != null) {
                        n += 16L * m.architecture().parameterCount();
                    }
                }
            }
            return n;
        }

        void closeModels() {
            if (models != null) {
                for (Sequential m : models) {
                    if (m != null) {
                        m.close();
                    }
                }
                models = null;
            }
        }

        TrialRecord snapshot() {
            return new TrialRecord(id, assignment.values(), assignment.config(), state, epochs, score,
                    new ArrayList<>(rungs), error, seconds);
        }
    }

    /** A worker's own copy of the objective's data: one (train, validation) pair per fold, or one for a holdout. */
    private record WorkerData(List<Dataset.Fold> folds) implements AutoCloseable {
        static WorkerData of(Dataset data, TuneSpec.Objective o) {
            List<Dataset.Fold> folds = new ArrayList<>();
            try {
                if (o.isKFold()) {
                    for (CrossValidation.FoldRows f : CrossValidation.folds(data.size(), o.k(), o.seed())) {
                        Dataset train = data.subset(f.train());
                        try {
                            folds.add(new Dataset.Fold(train, data.subset(f.test())));
                        } catch (RuntimeException e) {
                            train.close();
                            throw e;
                        }
                    }
                } else {
                    Dataset.Split s = data.split(1 - o.fraction(), o.seed());
                    if (s.first().size() == 0 || s.second().size() == 0) {
                        s.close();
                        throw new ConfigException("/objective/fraction", "a holdout of " + o.fraction() + " of "
                                + data.size() + " rows leaves an empty part");
                    }
                    folds.add(new Dataset.Fold(s.first(), s.second()));
                }
            } catch (RuntimeException e) {
                folds.forEach(Dataset.Fold::close);
                throw e;
            }
            return new WorkerData(List.copyOf(folds));
        }

        @Override
        public void close() {
            folds.forEach(Dataset.Fold::close);
        }
    }

    /**
     * The sampler's assignments in order. For a finite (grid) sampler, assignments equal to an earlier one are skipped:
     * a conditional parameter that does not apply would otherwise repeat the same trial.
     */
    private final class SamplerCursor {
        private final Sampler sampler;
        private final boolean dedupe;
        private final Set<Map<String, JsonNode>> seen = new HashSet<>();
        private long index;
        private Object peeked; // an Assignment, or the ConfigException its values gave

        SamplerCursor(Sampler sampler) {
            this.sampler = sampler;
            this.dedupe = sampler.size() != Long.MAX_VALUE;
        }

        boolean hasNext() {
            while (peeked == null && index < sampler.size()) {
                List<JsonNode> values = sampler.values(index++);
                try {
                    SearchSpace.Assignment a = spec.space().assignValues(baseConfig, values);
                    if (!dedupe || seen.add(a.values())) {
                        peeked = a;
                    }
                } catch (ConfigException e) {
                    Map<String, JsonNode> raw = new LinkedHashMap<>();
                    for (int i = 0; i < values.size(); i++) {
                        raw.put(spec.space().parameters().get(i).path(), values.get(i));
                    }
                    peeked = new Object[] {new SearchSpace.Assignment(raw, base.json()), e};
                }
            }
            return peeked != null;
        }

        /** The next assignment; a ConfigException's trial comes back as {assignment, exception}. */
        Object next() {
            if (!hasNext()) {
                throw new IllegalStateException("the sampler is exhausted");
            }
            Object a = peeked;
            peeked = null;
            return a;
        }
    }
}
