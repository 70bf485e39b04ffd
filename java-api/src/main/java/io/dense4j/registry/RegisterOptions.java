package io.dense4j.registry;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Optional details of a registration: who, from where, with which metrics, and whether to check that
 * the file loads as a model first.
 */
public final class RegisterOptions {
    private String source = "";
    private String actor = defaultActor();
    private final Map<String, Double> metrics = new LinkedHashMap<>();
    private boolean validate = true;

    public static RegisterOptions defaults() {
        return new RegisterOptions();
    }

    /** Free text saying where the model came from (a file path, a training run id). */
    public RegisterOptions source(String source) {
        this.source = Objects.requireNonNull(source);
        return this;
    }

    /** Who registers it; recorded in metadata and history. Defaults to the OS user. */
    public RegisterOptions actor(String actor) {
        this.actor = Objects.requireNonNull(actor);
        return this;
    }

    /** Adds a training or evaluation metric (e.g. {@code accuracy 0.98}). */
    public RegisterOptions metric(String name, double value) {
        metrics.put(Objects.requireNonNull(name), value);
        return this;
    }

    /** Adds every metric of the map. */
    public RegisterOptions metrics(Map<String, Double> values) {
        metrics.putAll(values);
        return this;
    }

    /**
     * Whether to load the file as a {@link io.dense4j.Model} before publishing it (default true), so
     * that a corrupt upload is refused instead of becoming a version that cannot be served.
     */
    public RegisterOptions validate(boolean validate) {
        this.validate = validate;
        return this;
    }

    public String source() {
        return source;
    }

    public String actor() {
        return actor;
    }

    public Map<String, Double> metrics() {
        return Map.copyOf(metrics);
    }

    public boolean validate() {
        return validate;
    }

    static String defaultActor() {
        String user = System.getProperty("user.name");
        return user == null || user.isBlank() ? "unknown" : user;
    }
}
