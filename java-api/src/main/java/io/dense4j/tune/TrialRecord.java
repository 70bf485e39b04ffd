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
 * @param state    running, paused (waiting for a promotion that may still come), stopped (not promoted),
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

    /** NaN and infinities become null: JSON has no such numbers. */
    static void putNumber(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) {
            o.put(key, v);
        } else {
            o.putNull(key);
        }
    }
}
