package io.dense4j.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The server's Prometheus metrics (Micrometer): requests and errors by route and status, latency
 * histograms, batch sizes, queue depth and loaded versions per model, and what the connection guards do.
 */
final class ServerMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<String, DistributionSummary> batchSizes = new ConcurrentHashMap<>();
    private final Map<String, QueueDepth> queueGauges = new ConcurrentHashMap<>();
    private final Map<String, Meter> loadedGauges = new ConcurrentHashMap<>();

    /** The request methods a series is kept for; any other (a client may invent one per request) counts as "other". */
    private static final java.util.Set<String> METHODS = java.util.Set.of("GET", "HEAD", "POST", "PUT", "DELETE",
            "PATCH", "OPTIONS", "TRACE", "CONNECT");

    /**
     * Records one finished HTTP request. {@code route} is the route template, never the raw path, and the method one
     * of {@link #METHODS}: every label takes a bounded set of values, whatever clients send.
     */
    void request(String method, String route, int status, float millis) {
        String s = Integer.toString(status);
        Timer.builder("dense4j.http.requests")
                .description("HTTP requests by route and status, with latency")
                .tags("method", METHODS.contains(method) ? method : "other", "route", route, "status", s)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(5).dividedBy(100))
                .maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry)
                .record(Duration.ofNanos((long) (millis * 1_000_000)));
        if (status >= 400) {
            Counter.builder("dense4j.http.errors").description("HTTP error responses by status")
                    .tags("route", route, "status", s).register(registry).increment();
        }
    }

    /** The observer a model version's batcher reports batch sizes to. */
    DistributionSummary batchSize(String model) {
        return batchSizes.computeIfAbsent(model, m -> DistributionSummary.builder("dense4j.batch.size")
                .description("rows per model execution").tags("model", m)
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256)
                .register(registry));
    }

    /**
     * Publishes the queue depth of a loaded version until the returned handle is closed. A version reloaded
     * while its retired copy still finishes requests has two batchers at once: the one gauge per model
     * version reports their sum and is removed when the last of them closes.
     */
    synchronized AutoCloseable queueGauge(String model, int version, IntSupplier depth) {
        String key = model + "/" + version;
        QueueDepth q = queueGauges.computeIfAbsent(key, k -> {
            QueueDepth n = new QueueDepth();
            n.meter = Gauge.builder("dense4j.batch.queue.depth", n, QueueDepth::sum)
                    .description("requests waiting for a batch")
                    .tags("model", model, "version", Integer.toString(version)).register(registry);
            return n;
        });
        q.sources.add(depth);
        return () -> removeQueueSource(key, q, depth);
    }

    private synchronized void removeQueueSource(String key, QueueDepth q, IntSupplier depth) {
        q.sources.remove(depth);
        if (q.sources.isEmpty() && queueGauges.remove(key, q)) {
            registry.remove(q.meter);
        }
    }

    private static final class QueueDepth {
        final List<IntSupplier> sources = new CopyOnWriteArrayList<>();
        Meter meter;

        double sum() {
            int n = 0;
            for (IntSupplier s : sources) {
                n += s.getAsInt();
            }
            return n;
        }
    }

    /** Publishes how many versions of each model are loaded. */
    void loadedVersionsGauge(Supplier<Map<String, Integer>> loaded) {
        // one gauge per model would have to follow models coming and going; a total plus per model
        // gauges registered lazily keeps it simple
        Gauge.builder("dense4j.models.loaded.versions", () -> loaded.get().values().stream().mapToInt(i -> i).sum())
                .description("model versions loaded in memory, all models").register(registry);
        this.loadedSupplier = loaded;
    }

    private volatile Supplier<Map<String, Integer>> loadedSupplier;

    /** Per-model loaded-version gauge, registered the first time a model is served. */
    void trackModel(String model) {
        loadedGauges.computeIfAbsent(model, m -> Gauge.builder("dense4j.model.loaded.versions", () -> {
            Supplier<Map<String, Integer>> s = loadedSupplier;
            return s == null ? 0 : s.get().getOrDefault(m, 0);
        }).description("versions of this model loaded in memory").tags("model", m).register(registry));
    }

    /** Removes a model's series once it is no longer served, so metric cardinality follows the registry. */
    void untrackModel(String model) {
        Meter g = loadedGauges.remove(model);
        if (g != null) {
            registry.remove(g);
        }
        DistributionSummary b = batchSizes.remove(model);
        if (b != null) {
            registry.remove(b);
        }
    }

    /** Publishes what a connector's {@link ConnectionGuard} sees: open connections, probation, refusals, timeouts. */
    void connections(String connector, ConnectionGuard guard) {
        Gauge.builder("dense4j.connections.open", guard, ConnectionGuard::openConnections)
                .description("open connections").tag("connector", connector).register(registry);
        FunctionCounter.builder("dense4j.connections.opened", guard, ConnectionGuard::admittedConnections)
                .description("connections accepted").tag("connector", connector).register(registry);
        FunctionCounter.builder("dense4j.connections.probation", guard, ConnectionGuard::probationAdmitted)
                .description("connections admitted on probation: their client was over its share")
                .tag("connector", connector).register(registry);
        FunctionCounter.builder("dense4j.requests.refused", guard, ConnectionGuard::refusedRequests)
                .description("requests refused with 429 to protect other clients")
                .tags("connector", connector, "reason", "probation").register(registry);
        FunctionCounter.builder("dense4j.requests.refused", guard, ConnectionGuard::busyRequests)
                .description("requests refused with 429 to protect other clients")
                .tags("connector", connector, "reason", "busy").register(registry);
        FunctionCounter.builder("dense4j.connections.shed", guard, ConnectionGuard::shedConnections)
                .description("connections closed to make room for new ones").tag("connector", connector).register(registry);
        FunctionCounter.builder("dense4j.connections.timeouts", guard, ConnectionGuard::headerTimeouts)
                .description("requests that missed a deadline").tags("connector", connector, "part", "headers")
                .register(registry);
        FunctionCounter.builder("dense4j.connections.timeouts", guard, ConnectionGuard::bodyTimeouts)
                .description("requests that missed a deadline").tags("connector", connector, "part", "body")
                .register(registry);
        FunctionCounter.builder("dense4j.connections.lingering", guard, ConnectionGuard::lingeringCloses)
                .description("connections that, answered, read and dropped what their client still sent before closing")
                .tag("connector", connector).register(registry);
        FunctionCounter.builder("dense4j.connections.lingering.dropped.bytes", guard, ConnectionGuard::drainedBytes)
                .description("bytes read and dropped by lingering closes").tag("connector", connector).register(registry);
    }

    /** A gauge read at each scrape (for the training service: jobs and threads in use here, open event streams). */
    void gauge(String name, String description, java.util.function.DoubleSupplier value) {
        Gauge.builder(name, value::getAsDouble).description(description).register(registry);
    }

    /** Prometheus text exposition. */
    String scrape() {
        return registry.scrape();
    }

    List<Meter> meters() {
        return registry.getMeters();
    }
}
