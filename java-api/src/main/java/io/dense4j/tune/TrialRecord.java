package io.dense4j.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;

/**
 * One trial as recorded: its hyperparameters (path to value), the full config they gave, and its result at each
 * rung it reached.
 *
 * @param id       0-based trial number (the sampler's index)
 * @param state    running, paused (waiting for a promotion that may still come; where a cancelled search left
 *                 it), stopped (not promoted),
 *                 completed (reached the last rung), failed, cancelled
 * @param epochs   epochs trained so far
 * @param score    the objective at its last rung (NaN before the first)
 * @param rungs    one entry per rung reached
 * @param error    why it failed, or null
 * @param seconds  training and evaluation time spent on it
 */
public record TrialRecord(int id, Map<String, JsonNode> values, JsonNode config, State state, int epochs, double score,
                          List<RungResult> rungs, String error, double seconds) {

    public enum State { RUNNING, PAUSED, STOPPED, COMPLETED, FAILED, CANCELLED;

        public String jsonName() {
            return name().toLowerCase();
        }

        public boolean terminal() {
            return this != RUNNING && this != PAUSED;
        }
    }

    /**
     * The objective after {@code epochs} epochs: mean (and sample standard deviation over the folds) of the
     * validation loss and accuracy, and the per-epoch training metrics of each fold in this rung.
     */
    public record RungResult(int rung, int epochs, double loss, double lossStd, double accuracy, double accuracyStd,
                             double score, List<Map<String, List<Double>>> history, double seconds) {}

    public TrialRecord {
        values = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(values));
        rungs = List.copyOf(rungs);
    }

    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", id);
        o.put("state", state.jsonName());
        ObjectNode v = o.putObject("params");
        values.forEach(v::set);
        o.put("epochs", epochs);
        putNumber(o, "score", score);
        var rs = o.putArray("rungs");
        for (RungResult r : rungs) {
            ObjectNode ro = rs.addObject();
            ro.put("rung", r.rung());
            ro.put("epochs", r.epochs());
            putNumber(ro, "score", r.score());
            putNumber(ro, "loss", r.loss());
            putNumber(ro, "loss_std", r.lossStd());
            putNumber(ro, "accuracy", r.accuracy());
            putNumber(ro, "accuracy_std", r.accuracyStd());
            ro.put("seconds", r.seconds());
            ro.set("history", Json.tree(r.history()));
        }
        if (error != null) {
            o.put("error", error);
        }
        o.put("seconds", seconds);
        o.set("config", config);
        return o;
    }

    /**
     * {@link #toJson} without what grows with the trial's epochs (each rung's metrics per fold and epoch) and without
     * its config: what a job's result, events and summaries carry; the full record is kept once, by whoever stores it.
     */
    public ObjectNode toSummaryJson() {
        return summarize(toJson());
    }

    /** Strips a record {@link #toJson} wrote down to its summary ({@link #toSummaryJson}), in place. */
    public static <T extends JsonNode> T summarize(T record) {
        if (record instanceof ObjectNode o) {
            o.remove("config");
            for (JsonNode rung : o.path("rungs")) {
                if (rung instanceof ObjectNode r) {
                    r.remove("history");
                }
            }
        }
        return record;
    }

    /**
     * The record {@link #toJson} wrote (as a search's store keeps it), to resume that search.
     *
     * @throws ConfigException a field is missing or of the wrong type (the path names it)
     */
    public static TrialRecord fromJson(JsonNode o) {
        Json.object(o, "");
        int id = (int) Json.integer(o, "id", "", null, 0, Integer.MAX_VALUE);
        State state = stateOf(Json.text(o, "state", "", null));
        Map<String, JsonNode> values = new java.util.LinkedHashMap<>();
        Json.object(o.get("params"), "/params").fields().forEachRemaining(e -> values.put(e.getKey(), e.getValue()));
        int epochs = (int) Json.integer(o, "epochs", "", null, 0, Integer.MAX_VALUE);
        List<RungResult> rungs = new java.util.ArrayList<>();
        JsonNode rs = o.path("rungs");
        if (!rs.isArray()) {
            throw new ConfigException("/rungs", "expected an array");
        }
        for (int i = 0; i < rs.size(); i++) {
            JsonNode r = Json.object(rs.get(i), "/rungs/" + i);
            String at = "/rungs/" + i;
            List<Map<String, List<Double>>> history = new java.util.ArrayList<>();
            for (JsonNode fold : r.path("history")) {
                Map<String, List<Double>> m = new java.util.LinkedHashMap<>();
                Json.object(fold, at + "/history").fields().forEachRemaining(e -> {
                    List<Double> vals = new java.util.ArrayList<>();
                    e.getValue().forEach(v -> vals.add(number(v)));
                    m.put(e.getKey(), vals);
                });
                history.add(m);
            }
            rungs.add(new RungResult((int) Json.integer(r, "rung", at, null, 0, Integer.MAX_VALUE),
                    (int) Json.integer(r, "epochs", at, null, 1, Integer.MAX_VALUE), number(r.path("loss")),
                    number(r.path("loss_std")), number(r.path("accuracy")), number(r.path("accuracy_std")),
                    number(r.path("score")), history, number(r.path("seconds"))));
        }
        String error = o.hasNonNull("error") ? o.get("error").asText() : null;
        return new TrialRecord(id, values, o.path("config"), state, epochs, number(o.path("score")), rungs, error,
                number(o.path("seconds")));
    }

    private static State stateOf(String name) {
        for (State st : State.values()) {
            if (st.jsonName().equals(name)) {
                return st;
            }
        }
        throw new ConfigException("/state", "unknown trial state '" + name + "'");
    }

    /** A number as {@link #toJson} wrote it: null for NaN, and the non-finite values Jackson writes as text. */
    private static double number(JsonNode v) {
        if (v.isNumber()) {
            return v.asDouble();
        }
        if (v.isTextual()) {
            try {
                return Double.parseDouble(v.asText());
            } catch (NumberFormatException e) {
                throw new ConfigException("", "expected a number, got '" + v.asText() + "'");
            }
        }
        return Double.NaN;
    }

    /** NaN and infinities become null: JSON has no such numbers. */
    static void putNumber(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) {
            o.put(key, v);
        } else {
            o.putNull(key);
        }
    }
}
