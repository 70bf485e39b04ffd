package io.dense4j.http;

import io.dense4j.Model;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.registry.RegisterOptions;
import io.dense4j.registry.RegistryException;
import io.dense4j.registry.TrafficSplit;
import io.dense4j.registry.VerifyResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Which model versions are in memory and where each request goes.
 *
 * <p>Every served model has an immutable {@link Routing} snapshot (loaded versions, aliases, traffic
 * split) behind a volatile field. A request reads the snapshot once, picks its version and takes a
 * reference on it ({@link Lease}); it finishes on that version whatever happens next. Changes
 * (management calls, or the registry poller noticing another process's changes) are serialized by one
 * lock: they load what the new state needs while requests keep using the old snapshot, swap in the
 * new snapshot with a single write, and only then retire versions that left it, which close when
 * their last request finishes. So no request fails during a promote or a rollback.
 */
final class ModelManager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelManager.class);

    /** The immutable routing state of one model. */
    record Routing(Map<Integer, LoadedVersion> loaded, Map<String, Integer> aliases, List<Integer> registered,
                   Map<Integer, String> failures, TrafficSplit split, boolean unloaded) {
        static final Routing EMPTY = new Routing(Map.of(), Map.of(), List.of(), Map.of(), null, false);
    }

    /** A request's hold on a loaded version; closing it lets the version be freed once retired. */
    static final class Lease implements AutoCloseable {
        final LoadedVersion version;
        private boolean closed;

        Lease(LoadedVersion version) {
            this.version = version;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                version.release();
            }
        }
    }

    private static final class Served {
        final String name;
        volatile Routing routing = Routing.EMPTY;
        // written only under the control lock
        boolean unloadRequested;
        final Map<Integer, String> failures = new HashMap<>();

        Served(String name) {
            this.name = name;
        }
    }

    private final ModelRegistry registry;
    private final ServerConfig cfg;
    private final ServerMetrics metrics;
    private final Map<String, Served> models = new ConcurrentHashMap<>();
    private final ReentrantLock control = new ReentrantLock();
    private final ScheduledExecutorService poller;

    ModelManager(ModelRegistry registry, ServerConfig cfg, ServerMetrics metrics) {
        this.registry = registry;
        this.cfg = cfg;
        this.metrics = metrics;
        this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "registry-poller");
            t.setDaemon(true);
            return t;
        });
        metrics.loadedVersionsGauge(this::loadedCounts);
    }

    ModelRegistry registry() {
        return registry;
    }

    /** Loads every model of the registry, then watches it for changes made by other processes. */
    void start() {
        refreshAll();
        long ms = cfg.pollInterval().toMillis();
        if (ms > 0) {
            poller.scheduleWithFixedDelay(() -> {
                try {
                    refreshAll();
                } catch (RuntimeException e) {
                    LOG.warn("registry poll failed: {}", e.getMessage());
                }
            }, ms, ms, TimeUnit.MILLISECONDS);
        }
    }

    // ------------------------------------------------------------------ serving

    /** Names of served models, sorted. */
    List<String> modelNames() {
        List<String> n = new ArrayList<>(models.keySet());
        Collections.sort(n);
        return n;
    }

    /** The current routing snapshot of a model. */
    Routing routing(String model) {
        return served(model).routing;
    }

    /**
     * Picks the version for a request and takes a reference on it.
     *
     * @param versionSpec null for the default route (traffic split, else the default alias, else the
     *                    latest version), a version number, or an alias name
     */
    Lease acquire(String model, String versionSpec) {
        Served s = served(model);
        // a version can be retired between reading the snapshot and acquiring it; then the next
        // snapshot no longer routes to it, so a retry finds its replacement
        for (int attempt = 0; attempt < 1000; attempt++) {
            LoadedVersion lv = resolve(s.name, s.routing, versionSpec);
            if (lv.acquire()) {
                return new Lease(lv);
            }
            Thread.onSpinWait();
        }
        throw ApiException.unavailable("model '" + model + "' is being reloaded; retry");
    }

    /** True when a request with this version spec would find a loaded version. */
    boolean isReady(String model, String versionSpec) {
        try {
            resolve(model, served(model).routing, versionSpec);
            return true;
        } catch (ApiException e) {
            if (e.status() == 404 || e.status() == 400) {
                throw e;
            }
            return false;
        }
    }

    /** True when every model that is not explicitly unloaded can serve its default route. */
    boolean allReady() {
        for (Served s : models.values()) {
            Routing r = s.routing;
            if (!r.unloaded() && !r.registered().isEmpty()) {
                try {
                    resolve(s.name, r, null);
                } catch (ApiException e) {
                    return false;
                }
            }
        }
        return true;
    }

    private LoadedVersion resolve(String model, Routing r, String spec) {
        if (r.unloaded()) {
            throw ApiException.unavailable("model '" + model + "' is unloaded");
        }
        int version;
        if (spec == null) {
            version = defaultVersion(model, r);
        } else if (isNumber(spec)) {
            version = parseVersion(spec);
        } else if (!ModelRegistry.isAliasName(spec)) {
            throw ApiException.badRequest("bad version '" + spec + "': a version is a positive integer or an alias name");
        } else {
            Integer v = r.aliases().get(spec);
            if (v == null) {
                throw ApiException.notFound("model '" + model + "' has no version or alias '" + spec + "'");
            }
            version = v;
        }
        LoadedVersion lv = r.loaded().get(version);
        if (lv != null) {
            return lv;
        }
        if (!r.registered().contains(version)) {
            throw ApiException.notFound("model '" + model + "' has no version " + version);
        }
        String why = r.failures().get(version);
        throw ApiException.unavailable("version " + version + " of model '" + model + "' is not loaded"
                + (why != null ? ": " + why : " (it is not selected by an alias, a traffic split or the latest-version policy)"));
    }

    private int defaultVersion(String model, Routing r) {
        TrafficSplit split = r.split();
        if (split != null) {
            return ThreadLocalRandom.current().nextInt(100) < split.canaryPercent() ? split.canary() : split.baseline();
        }
        Integer aliased = r.aliases().get(cfg.defaultAlias());
        if (aliased != null) {
            return aliased;
        }
        if (r.registered().isEmpty()) {
            throw ApiException.unavailable("model '" + model + "' has no version");
        }
        // latest: the newest version that loaded (a newer broken one does not take the model down)
        for (int i = r.registered().size() - 1; i >= 0; i--) {
            if (r.loaded().containsKey(r.registered().get(i))) {
                return r.registered().get(i);
            }
        }
        return r.registered().get(r.registered().size() - 1);
    }

    private Served served(String model) {
        Served s = models.get(model);
        if (s == null) {
            throw ApiException.notFound("model '" + model + "' is not served (not in the registry)");
        }
        return s;
    }

    // ------------------------------------------------------------------ management

    /** Registers an uploaded model file, optionally pointing an alias at it, and serves it. */
    ModelVersionInfo register(String model, InputStream body, RegisterOptions options, String alias) {
        ModelVersionInfo info = registry.register(model, body, options); // staging needs no control lock
        control.lock();
        try {
            if (alias != null) {
                try {
                    moveAliasLocked(model, alias, info.version(), options.actor());
                } catch (ApiException e) {
                    // the version is registered whatever the alias does: say which, or a retry registers another
                    throw new ApiException(e.status(), "version " + info.version() + " of model '" + model
                            + "' was registered, but alias '" + alias + "' was not moved to it: " + e.getMessage());
                }
            } else {
                refreshLocked(model);
            }
            return info;
        } finally {
            control.unlock();
        }
    }

    /** Points an alias at a version: loads the version first, then moves the alias and swaps. */
    Optional<Integer> setAlias(String model, String alias, int version, String actor) {
        control.lock();
        try {
            return moveAliasLocked(model, alias, version, actor);
        } finally {
            control.unlock();
        }
    }

    private Optional<Integer> moveAliasLocked(String model, String alias, int version, String actor) {
        ModelRegistry.checkAliasName(alias);
        Served s = servedFor(model);
        LoadedVersion pre = preload(s, version);
        try {
            Optional<Integer> previous = registry.setAlias(model, alias, version, actor);
            refreshLocked(model, pre);
            pre = null;
            return previous;
        } finally {
            if (pre != null) {
                pre.retire();
            }
        }
    }

    /** Moves an alias back to its previous version (from the registry's history). */
    int rollback(String model, String alias, String actor) {
        control.lock();
        try {
            Served s = servedFor(model);
            Optional<Integer> target = registry.rollbackTarget(model, alias);
            LoadedVersion pre = target.isPresent() ? preload(s, target.get()) : null;
            try {
                int v = registry.rollback(model, alias, actor);
                refreshLocked(model, pre);
                pre = null;
                return v;
            } finally {
                if (pre != null) {
                    pre.retire();
                }
            }
        } finally {
            control.unlock();
        }
    }

    void removeAlias(String model, String alias, String actor) {
        control.lock();
        try {
            registry.removeAlias(model, alias, actor);
            refreshLocked(model);
        } finally {
            control.unlock();
        }
    }

    /** What else uses registry versions (the federated tasks): a version it names is not deleted. */
    private volatile java.util.function.BiFunction<String, Integer, java.util.Optional<String>> versionUse =
            (model, version) -> java.util.Optional.empty();

    void guardVersions(java.util.function.BiFunction<String, Integer, java.util.Optional<String>> use) {
        this.versionUse = use;
    }

    void deleteVersion(String model, int version, String actor) {
        control.lock();
        try {
            versionUse.apply(model, version).ifPresent(why -> {
                throw new io.dense4j.registry.RegistryException(io.dense4j.registry.RegistryException.Kind.CONFLICT, why);
            });
            registry.deleteVersion(model, version, actor); // refused while an alias or the traffic split uses it
            refreshLocked(model);
        } finally {
            control.unlock();
        }
    }

    /**
     * Splits default-route traffic: {@code percent}% to {@code canary}, the rest to {@code baseline}. Both
     * versions are loaded first; the split is then stored in the registry (so it survives restarts and other
     * servers sharing the registry follow it) and swapped in.
     */
    void setTraffic(String model, int baseline, int canary, int percent, String actor) {
        TrafficSplit split = new TrafficSplit(baseline, canary, percent); // 400 for a bad percent or version
        control.lock();
        try {
            Served s = servedFor(model);
            Map<Integer, LoadedVersion> pre = new HashMap<>();
            try {
                for (int v : new int[] {baseline, canary}) {
                    if (!pre.containsKey(v)) {
                        LoadedVersion lv = preload(s, v);
                        if (lv != null) {
                            pre.put(v, lv);
                        }
                    }
                }
                registry.setTraffic(model, split, actor);
            } catch (RuntimeException e) {
                pre.values().forEach(LoadedVersion::retire);
                throw e;
            }
            refreshLocked(s.name, pre);
        } finally {
            control.unlock();
        }
    }

    void clearTraffic(String model, String actor) {
        control.lock();
        try {
            registry.clearTraffic(model, actor);
            refreshLocked(model);
        } finally {
            control.unlock();
        }
    }

    /** Repository "load": serve the model again (after an unload), retrying versions that failed. */
    void load(String model) {
        control.lock();
        try {
            if (!registry.exists(model)) {
                throw ApiException.notFound("model '" + model + "' is not in the registry");
            }
            Served s = servedOrNew(model);
            s.unloadRequested = false;
            s.failures.clear();
            refreshLocked(model);
        } finally {
            control.unlock();
        }
    }

    /** Repository "unload": stop serving the model; in-flight requests finish first. */
    void unload(String model) {
        control.lock();
        try {
            Served s = served(model);
            s.unloadRequested = true;
            refreshLocked(model);
        } finally {
            control.unlock();
        }
    }

    List<VerifyResult> verify(String model) {
        return registry.verify(model);
    }

    /** Re-reads the whole registry (the poller, and start-up). */
    void refreshAll() {
        control.lock();
        try {
            Set<String> inRegistry = new HashSet<>(registry.models());
            for (String m : inRegistry) {
                try {
                    refreshLocked(m);
                } catch (RuntimeException e) {
                    LOG.warn("cannot refresh model {}: {}", m, e.getMessage());
                }
            }
            for (String m : new ArrayList<>(models.keySet())) {
                if (!inRegistry.contains(m)) {
                    dropLocked(m);
                }
            }
        } finally {
            control.unlock();
        }
    }

    // ------------------------------------------------------------------ internals

    /**
     * The served model for a management call: 404 (leaving no trace: no routing entry, no metric series)
     * when the registry does not have it.
     */
    private Served servedFor(String model) {
        ModelRegistry.checkModelName(model);
        Served s = models.get(model);
        if (s != null) {
            return s;
        }
        if (!registry.exists(model)) {
            throw ApiException.notFound("model '" + model + "' is not in the registry");
        }
        return servedOrNew(model);
    }

    private Served servedOrNew(String model) {
        ModelRegistry.checkModelName(model);
        return models.computeIfAbsent(model, m -> {
            metrics.trackModel(m);
            return new Served(m);
        });
    }

    /** Loads a version ahead of a swap, unless it is already loaded (then null). */
    private LoadedVersion preload(Served s, int version) {
        if (s.routing.loaded().containsKey(version)) {
            return null;
        }
        ModelVersionInfo info = registry.describe(s.name, version); // NOT_FOUND -> 404
        try {
            return load(info);
        } catch (RuntimeException e) {
            throw new ApiException(409, "version " + version + " of model '" + s.name + "' cannot be loaded: "
                    + clientSafe(e.getMessage()));
        }
    }

    private void refreshLocked(String model) {
        refreshLocked(model, Map.of());
    }

    private void refreshLocked(String model, LoadedVersion preloaded) {
        refreshLocked(model, preloaded == null ? Map.of() : Map.of(preloaded.version(), preloaded));
    }

    /**
     * Brings one model's snapshot in line with the registry: loads what the new state needs (while
     * requests use the old snapshot), swaps, then retires what left. Caller holds the control lock.
     */
    private void refreshLocked(String model, Map<Integer, LoadedVersion> preloaded) {
        List<Integer> registered;
        Map<String, Integer> aliases;
        TrafficSplit split;
        try {
            registered = registry.versionNumbers(model);
            aliases = registry.aliases(model);
            split = registry.traffic(model).orElse(null);
        } catch (RegistryException e) {
            if (e.kind() == RegistryException.Kind.NOT_FOUND) {
                dropLocked(model);
                preloaded.values().forEach(LoadedVersion::retire);
                return;
            }
            throw e;
        }
        Served s = servedOrNew(model);
        Routing old = s.routing;
        if (split != null && !(registered.contains(split.baseline()) && registered.contains(split.canary()))) {
            split = null; // a version of the split vanished behind our back (deleted by hand): ignore the split
        }
        Set<Integer> desired = new HashSet<>();
        if (!s.unloadRequested) {
            for (int i = Math.max(0, registered.size() - cfg.latestVersions()); i < registered.size(); i++) {
                desired.add(registered.get(i));
            }
            desired.addAll(aliases.values());
            if (split != null) {
                desired.add(split.baseline());
                desired.add(split.canary());
            }
            desired.retainAll(registered);
        }
        Map<Integer, LoadedVersion> next = new TreeMap<>();
        List<LoadedVersion> unused = new ArrayList<>(preloaded.values());
        for (int v : desired) {
            LoadedVersion lv = old.loaded().get(v);
            if (lv == null) {
                lv = preloaded.get(v);
                if (lv != null) {
                    unused.remove(lv);
                }
            }
            if (lv == null && !s.failures.containsKey(v)) {
                try {
                    lv = load(registry.describe(model, v));
                } catch (RuntimeException e) {
                    // keep serving what works; the reason shows in the repository index and in 503s
                    s.failures.put(v, clientSafe(e.getMessage()));
                    LOG.warn("model {} version {} failed to load: {}", model, v, e.getMessage());
                }
            }
            if (lv != null) {
                next.put(v, lv);
                s.failures.remove(v);
            }
        }
        s.failures.keySet().retainAll(registered);
        s.routing = new Routing(Collections.unmodifiableMap(next), Map.copyOf(aliases), List.copyOf(registered),
                Map.copyOf(s.failures), split, s.unloadRequested);
        for (Map.Entry<Integer, LoadedVersion> e : old.loaded().entrySet()) {
            if (next.get(e.getKey()) != e.getValue()) {
                LOG.info("model '{}' version {} retired", model, e.getKey());
                e.getValue().retire();
            }
        }
        unused.forEach(LoadedVersion::retire);
    }

    private void dropLocked(String model) {
        Served s = models.remove(model);
        if (s != null) {
            metrics.untrackModel(model);
            Routing old = s.routing;
            s.routing = Routing.EMPTY;
            old.loaded().values().forEach(LoadedVersion::retire);
        }
    }

    /** Loads a version after checking its file against the registered SHA-256. */
    private LoadedVersion load(ModelVersionInfo info) {
        VerifyResult check = registry.verify(info.model(), info.version());
        if (!check.ok()) {
            throw new IllegalStateException(check.message());
        }
        long t0 = System.nanoTime();
        Model model = Model.load(info.modelFile(registry.root()));
        if (!cfg.device().isCpu()) {
            try {
                model.to(cfg.device()); // files always load on the CPU; the device copy is made here
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        }
        String name = "model '" + info.model() + "' version " + info.version();
        DynamicBatcher batcher = null;
        AutoCloseable gauge;
        try {
            batcher = cfg.batching().enabled()
                    ? new DynamicBatcher(name, model::predict, cfg.batching(), metrics.batchSize(info.model())::record)
                    : null;
            DynamicBatcher b = batcher;
            gauge = b == null ? () -> { } : metrics.queueGauge(info.model(), info.version(), b::queueDepth);
        } catch (RuntimeException | Error e) { // nothing holds the model yet: free it here, or its native memory leaks
            if (batcher != null) {
                batcher.close();
            }
            model.close();
            throw e;
        }
        LOG.info("{} loaded in {} ms ({} inputs, {} outputs, on {})", name, (System.nanoTime() - t0) / 1_000_000,
                model.inputSize(), model.outputSize(), model.device());
        return new LoadedVersion(info, model, batcher,
                () -> {
                    try {
                        gauge.close();
                    } catch (Exception e) {
                        LOG.warn("cannot remove the queue gauge of {}: {}", name, e.getMessage());
                    }
                    LOG.info("{} closed", name);
                });
    }

    private Map<String, Integer> loadedCounts() {
        Map<String, Integer> out = new LinkedHashMap<>();
        models.forEach((k, v) -> out.put(k, v.routing.loaded().size()));
        return out;
    }

    /** A message for clients: the registry's location on disk is the server's business. */
    private String clientSafe(String message) {
        return message == null ? "unknown error" : message.replace(registry.root().toString(), "<registry>");
    }

    static boolean isNumber(String s) {
        if (s.isEmpty() || s.length() > 10) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    static int parseVersion(String s) {
        try {
            int v = Integer.parseInt(s);
            if (v < 1) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("bad version '" + s + "': versions are positive integers");
        }
    }

    /** Stops the poller and retires every version; each closes when its last request is done. */
    @Override
    public void close() {
        poller.shutdownNow();
        control.lock();
        try {
            for (String m : new ArrayList<>(models.keySet())) {
                dropLocked(m);
            }
        } finally {
            control.unlock();
        }
    }
}
