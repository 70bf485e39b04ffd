package io.dense4j.federated;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What happened in one round, as the server saw it: what a registry version's lineage records.
 *
 * @param round          1-based round number
 * @param status         COMPLETED (the global model changed) or ABORTED (it did not)
 * @param reason         why it aborted; empty when completed
 * @param selected       clients sampled for the round
 * @param participants   updates in the aggregate
 * @param secAggSets     with secure aggregation, |U1|, |U2|, |U3|, |U4| (keys advertised, shared, inputs sent,
 *                       unmasking answered); empty without
 * @param epsilon        ε spent so far at {@code delta} (NaN without differential privacy)
 * @param delta          the δ of {@code epsilon}
 * @param updateNorm     L2 norm of the applied global update (NaN when aborted)
 * @param seconds        wall time of the round, first sampling to aggregate
 * @param bytesUp        request bytes the server received for this round, over all clients
 * @param bytesDown      response bytes the server sent for this round, over all clients
 * @param clientsSeen    distinct clients that exchanged messages about this round
 */
public record RoundSummary(long round, String status, String reason, int selected, int participants, int[] secAggSets,
                           double epsilon, double delta, double updateNorm, double seconds, long bytesUp, long bytesDown,
                           int clientsSeen) {
    public boolean completed() {
        return "COMPLETED".equals(status);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("round", round);
        m.put("status", status);
        m.put("reason", reason);
        m.put("selected", selected);
        m.put("participants", participants);
        m.put("secagg_sets", secAggSets);
        m.put("epsilon", Double.isNaN(epsilon) ? null : epsilon);
        m.put("delta", delta);
        m.put("update_norm", Double.isNaN(updateNorm) ? null : updateNorm);
        m.put("seconds", seconds);
        m.put("bytes_up", bytesUp);
        m.put("bytes_down", bytesDown);
        m.put("clients_seen", clientsSeen);
        return m;
    }
}
