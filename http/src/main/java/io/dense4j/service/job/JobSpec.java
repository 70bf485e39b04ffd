package io.dense4j.service.job;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.RegistryException;
import io.dense4j.tune.ConfigAdapter;
import io.dense4j.tune.ConfigException;
import io.dense4j.tune.Json;
import io.dense4j.tune.TuneSpec;
import io.dense4j.tune.Tuner;
import java.util.Set;

/**
 * A job as submitted (JSON), validated completely before it is queued, so that a bad spec is a 400 at submission
 * and never a failed job an hour later:
 *
 * <pre>
 * {
 *   "type": "tune",                                   train | tune | evaluate
 *   "name": "fashion lr search",                      optional label
 *   "dataset": {"sha256": "9f86d0...",                64 hex digits of an uploaded data set
 *               "holdout": {"fraction": 0.1, "seed": 0}},   or "test_split" (the data set's own test part);
 *                                                     default: test_split when the data set has one, else 10%
 *   "config": { model + training config, see ConfigAdapter },     train and tune
 *   "tune":   { search space and strategy, see TuneSpec },        tune only
 *   "parent": {"model": "fashion", "version": "stable"},          train: continue from a registered version
 *   "model":  {"model": "fashion", "version": 3},                 evaluate: the version to evaluate
 *   "resources": {"cpus": 2, "gpus": 0},              CPU threads and whole GPUs (default 1 and 0)
 *   "priority": 0,                                    higher runs first, in [-1000, 1000]
 *   "register_as": "fashion",                         train and tune: register the result as a new version
 *   "promote": "if_better",                           never (default) | if_better: move "stable" if the holdout
 *   "promote_metric": "accuracy",                     metric beats the current stable's on the same holdout
 *   "checkpoint": {"min_interval_seconds": 30}        train, and a tune's retrain of its best trial: checkpoint
 *                                                     at the end of an epoch once this long has passed since the
 *                                                     last one (0: every epoch; default: the server's
 *                                                     --checkpoint-interval); the last epoch always
 * }
 * </pre>
 */
public record JobSpec(Type type, String name, String datasetSha256, Holdout holdout, ObjectNode config,
                      TuneSpec tune, ModelRef parent, ModelRef model, int cpus, int gpus, int priority,
                      String registerAs, boolean promoteIfBetter, String promoteMetric,
                      java.time.Duration checkpointInterval, ObjectNode json) {

    public enum Type { TRAIN, TUNE, EVALUATE;

        public String jsonName() {
            return name().toLowerCase();
        }
    }

    /** The rows kept out of training to score the result: the data set's test split, or a seeded fraction. */
    public record Holdout(boolean testSplit, double fraction, long seed) {
        public ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            if (testSplit) {
                o.put("test_split", true);
            } else {
                o.put("fraction", fraction);
                o.put("seed", seed);
            }
            return o;
        }
    }

    /** A registered model version: a number or an alias. */
    public record ModelRef(String model, String version) {
        public ObjectNode toJson() {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("model", model);
            o.put("version", version);
            return o;
        }
    }

    private static final Set<String> FIELDS = Set.of("type", "name", "dataset", "config", "tune", "parent", "model",
            "resources", "priority", "register_as", "promote", "promote_metric", "checkpoint");
    static final int MAX_CPUS = 1024;
    /** The longest checkpoint interval a job may ask for: a week. */
    public static final long MAX_CHECKPOINT_INTERVAL_SECONDS = 7 * 24 * 3600;
    static final int MAX_GPUS = 64;

    /** Parses and validates; every error is a {@link ConfigException} naming the field. */
    public static JobSpec parse(JsonNode n) {
        ObjectNode o = Json.object(n, "");
        Json.allowOnly(o, "", FIELDS);
        String typeName = Json.text(o, "type", "", null);
        Type type = switch (typeName) {
            case "train" -> Type.TRAIN;
            case "tune" -> Type.TUNE;
            case "evaluate" -> Type.EVALUATE;
            default -> throw new ConfigException("/type", "expected train, tune or evaluate, got '" + typeName + "'");
        };
        String name = Json.text(o, "name", "", "");
        if (name.length() > 200 || name.chars().anyMatch(Character::isISOControl)) {
            throw new ConfigException("/name", "at most 200 characters, none a control character");
        }
        JsonNode ds = o.get("dataset");
        if (ds == null || ds.isNull()) {
            throw new ConfigException("/dataset", "is required: {\"sha256\": \"...\"} of an uploaded data set");
        }
        Json.object(ds, "/dataset");
        Json.allowOnly(ds, "/dataset", Set.of("sha256", "holdout"));
        String sha = Json.text(ds, "sha256", "/dataset", null);
        if (!sha.matches("[0-9a-f]{64}")) {
            throw new ConfigException("/dataset/sha256", "expected 64 lowercase hex digits, got '"
                    + (sha.length() > 80 ? sha.substring(0, 80) + "..." : sha) + "'");
        }
        Holdout holdout = parseHoldout(ds.get("holdout"));

        ObjectNode config = null;
        ConfigAdapter adapter = null;
        if (type != Type.EVALUATE) {
            JsonNode c = o.get("config");
            if (c == null || c.isNull()) {
                throw new ConfigException("/config", "is required for a " + typeName + " job");
            }
            try {
                adapter = ConfigAdapter.parse(c);
            } catch (ConfigException e) {
                throw new ConfigException("/config" + e.path(), stripPath(e));
            }
            config = (ObjectNode) c.deepCopy();
        } else if (o.has("config")) {
            throw new ConfigException("/config", "an evaluate job takes no config: it evaluates \"model\" as it is");
        }

        TuneSpec tune = null;
        if (type == Type.TUNE) {
            JsonNode t = o.get("tune");
            if (t == null || t.isNull()) {
                throw new ConfigException("/tune", "is required for a tune job");
            }
            try {
                tune = TuneSpec.parse(t, adapter);
                new Tuner(tune, config); // checks the space against the config
            } catch (ConfigException e) {
                throw new ConfigException("/tune" + e.path(), stripPath(e));
            }
        } else if (o.has("tune")) {
            throw new ConfigException("/tune", "only a tune job takes a tune section");
        }

        ModelRef parent = parseRef(o.get("parent"), "/parent");
        ModelRef model = parseRef(o.get("model"), "/model");
        if (parent != null && type != Type.TRAIN) {
            throw new ConfigException("/parent", "only a train job continues from a parent version");
        }
        if (type == Type.EVALUATE && model == null) {
            throw new ConfigException("/model", "an evaluate job needs the model to evaluate: {\"model\": \"name\", "
                    + "\"version\": \"stable\"}");
        }
        if (type != Type.EVALUATE && model != null) {
            throw new ConfigException("/model", "only an evaluate job names a model (a train job continuing one uses "
                    + "\"parent\")");
        }

        int cpus = 1;
        int gpus = 0;
        JsonNode r = o.get("resources");
        if (r != null && !r.isNull()) {
            Json.object(r, "/resources");
            Json.allowOnly(r, "/resources", Set.of("cpus", "gpus"));
            cpus = (int) Json.integer(r, "cpus", "/resources", 1L, 1, MAX_CPUS);
            gpus = (int) Json.integer(r, "gpus", "/resources", 0L, 0, MAX_GPUS);
        }
        if (tune != null && (long) tune.maxParallelTrials() * tune.threadsPerTrial() > cpus) {
            throw new ConfigException("/resources/cpus", "the tune runs up to " + tune.maxParallelTrials()
                    + " trials at once with " + tune.threadsPerTrial() + " thread" + (tune.threadsPerTrial() == 1 ? "" : "s")
                    + " each, so it needs " + tune.maxParallelTrials() * tune.threadsPerTrial() + " cpus; it asks for "
                    + cpus);
        }
        int priority = (int) Json.integer(o, "priority", "", 0L, -1000, 1000);

        String registerAs = o.has("register_as") && !o.get("register_as").isNull()
                ? Json.text(o, "register_as", "", null) : null;
        if (registerAs != null) {
            if (type == Type.EVALUATE) {
                throw new ConfigException("/register_as", "an evaluate job registers nothing");
            }
            if (tune != null && !tune.retrainBest()) {
                throw new ConfigException("/register_as", "a tune without retrain_best produces no model to register");
            }
            try {
                ModelRegistry.checkModelName(registerAs);
            } catch (IllegalArgumentException | RegistryException e) {
                throw new ConfigException("/register_as", e.getMessage());
            }
        }
        String promote = Json.text(o, "promote", "", "never");
        if (!promote.equals("never") && !promote.equals("if_better")) {
            throw new ConfigException("/promote", "expected never or if_better, got '" + promote + "'");
        }
        if (promote.equals("if_better") && registerAs == null) {
            throw new ConfigException("/promote", "if_better needs register_as: the model to promote is registered first");
        }
        String metric = Json.text(o, "promote_metric", "", adapter == null ? "accuracy" : adapter.defaultMetric());
        if (!metric.equals("accuracy") && !metric.equals("loss")) {
            throw new ConfigException("/promote_metric", "expected accuracy (higher is better) or loss (lower is "
                    + "better), got '" + metric + "'");
        }
        if (o.has("promote_metric") && !promote.equals("if_better")) {
            throw new ConfigException("/promote_metric", "only means something with \"promote\": \"if_better\"");
        }
        java.time.Duration checkpointInterval = parseCheckpoint(o.get("checkpoint"), type);
        return new JobSpec(type, name, sha, holdout, config, tune, parent, model, cpus, gpus, priority, registerAs,
                promote.equals("if_better"), metric, checkpointInterval, o.deepCopy());
    }

    /**
     * {@code "checkpoint": {"min_interval_seconds": s}} (train, and tune: its retrain of the best trial); null when
     * absent: the server's default.
     */
    private static java.time.Duration parseCheckpoint(JsonNode c, Type type) {
        String p = "/checkpoint";
        if (c == null || c.isNull()) {
            return null;
        }
        if (type == Type.EVALUATE) {
            throw new ConfigException(p, "an evaluate job does not checkpoint (it is one pass over the rows)");
        }
        Json.object(c, p);
        Json.allowOnly(c, p, Set.of("min_interval_seconds"));
        double s = Json.number(c, "min_interval_seconds", p, null);
        if (!(s >= 0 && s <= MAX_CHECKPOINT_INTERVAL_SECONDS)) {
            throw new ConfigException(p + "/min_interval_seconds", "must be in [0, " + MAX_CHECKPOINT_INTERVAL_SECONDS
                    + "] seconds (0: every epoch), got " + s);
        }
        return java.time.Duration.ofNanos(Math.round(s * 1e9));
    }

    private static Holdout parseHoldout(JsonNode h) {
        String p = "/dataset/holdout";
        if (h == null || h.isNull()) {
            return null; // decided when the data set is known: its test split if it has one, else 10%
        }
        if (h.isTextual()) {
            if (!h.asText().equals("test_split")) {
                throw new ConfigException(p, "expected \"test_split\" or {\"fraction\": f, \"seed\": s}");
            }
            return new Holdout(true, 0, 0);
        }
        Json.object(h, p);
        Json.allowOnly(h, p, Set.of("fraction", "seed"));
        double f = Json.number(h, "fraction", p, null);
        if (!(f > 0 && f <= 0.5)) {
            throw new ConfigException(p + "/fraction", "must be in (0, 0.5], got " + f);
        }
        return new Holdout(false, f, Json.integer(h, "seed", p, 0L, Long.MIN_VALUE, Long.MAX_VALUE));
    }

    private static ModelRef parseRef(JsonNode n, String p) {
        if (n == null || n.isNull()) {
            return null;
        }
        Json.object(n, p);
        Json.allowOnly(n, p, Set.of("model", "version"));
        String model = Json.text(n, "model", p, null);
        try {
            ModelRegistry.checkModelName(model);
        } catch (IllegalArgumentException | RegistryException e) {
            throw new ConfigException(p + "/model", e.getMessage());
        }
        JsonNode v = n.get("version");
        String version;
        if (v == null || v.isNull()) {
            version = "stable";
        } else if (v.isIntegralNumber() && v.canConvertToInt() && v.asInt() >= 1) {
            version = Integer.toString(v.asInt());
        } else if (v.isTextual() && v.asText().matches("[1-9][0-9]{0,9}|[A-Za-z][A-Za-z0-9._-]{0,63}")) {
            version = v.asText();
        } else {
            throw new ConfigException(p + "/version", "expected a version number >= 1 or an alias, got " + Json.kind(v));
        }
        return new ModelRef(model, version);
    }

    private static String stripPath(ConfigException e) {
        String m = e.getMessage();
        return e.path().isEmpty() || !m.startsWith(e.path() + ": ") ? m : m.substring(e.path().length() + 2);
    }
}
