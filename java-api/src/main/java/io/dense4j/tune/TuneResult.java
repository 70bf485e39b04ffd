package io.dense4j.tune;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Optional;

/**
 * Every trial of a search and the best one.
 *
 * @param best the trial that reached the highest rung with the best score there; empty when every trial failed
 */
public record TuneResult(List<TrialRecord> trials, Optional<TrialRecord> best, String metric, boolean maximize,
                         String sampler, String objective, int[] rungs, double wallSeconds) {
    public TuneResult {
        trials = List.copyOf(trials);
        rungs = rungs.clone();
    }

    public ObjectNode toJson() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("metric", metric);
        o.put("direction", maximize ? "maximize" : "minimize");
        o.put("sampler", sampler);
        o.put("objective", objective);
        var r = o.putArray("rungs");
        for (int e : rungs) {
            r.add(e);
        }
        o.put("wall_seconds", wallSeconds);
        best.ifPresentOrElse(b -> o.put("best_trial", b.id()), () -> o.putNull("best_trial"));
        var ts = o.putArray("trials");
        trials.forEach(t -> ts.add(t.toJson()));
        return o;
    }
}
