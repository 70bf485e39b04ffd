package io.dense4j.federated;

import java.util.LinkedHashMap;
import java.util.List;
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
 * @param updatesRefused updates refused for being above the task's max update norm (their clients left out)
 */
public record RoundSummary(long round, String status, String reason, int selected, int participants, int[] secAggSets,
                           double epsilon, double delta, double updateNorm, double seconds, long bytesUp, long bytesDown,
                           int clientsSeen, int updatesRefused) {
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
        m.put("updates_refused", updatesRefused);
        return m;
    }

    /**
     * Rebuilds a summary from {@link #toMap()} as it comes back from JSON (numbers of any width, {@code secagg_sets}
     * as a list), for a coordinator resumed after a restart; unknown or missing keys are an error.
     */
    public static RoundSummary fromMap(Map<String, ?> m) {
        java.util.Set<String> keys = new java.util.HashSet<>(m.keySet());
        keys.remove("updates_refused"); // absent from summaries stored before it existed: none were refused
        if (!keys.equals(KEYS)) {
            throw new IllegalArgumentException("a round summary has the keys " + KEYS + " and updates_refused, got "
                    + m.keySet());
        }
        Object sets = m.get("secagg_sets");
        int[] secAggSets;
        if (sets instanceof int[] a) {
            secAggSets = a.clone();
        } else if (sets instanceof List<?> l) {
            secAggSets = new int[l.size()];
            for (int i = 0; i < secAggSets.length; i++) {
                secAggSets[i] = Math.toIntExact(number(l.get(i), "secagg_sets").longValue());
            }
        } else {
            throw new IllegalArgumentException("secagg_sets must be a list of integers, got " + sets);
        }
        return new RoundSummary(number(m.get("round"), "round").longValue(), text(m.get("status"), "status"),
                text(m.get("reason"), "reason"), Math.toIntExact(number(m.get("selected"), "selected").longValue()),
                Math.toIntExact(number(m.get("participants"), "participants").longValue()), secAggSets,
                orNaN(m.get("epsilon"), "epsilon"), number(m.get("delta"), "delta").doubleValue(),
                orNaN(m.get("update_norm"), "update_norm"), number(m.get("seconds"), "seconds").doubleValue(),
                number(m.get("bytes_up"), "bytes_up").longValue(), number(m.get("bytes_down"), "bytes_down").longValue(),
                Math.toIntExact(number(m.get("clients_seen"), "clients_seen").longValue()),
                m.containsKey("updates_refused")
                        ? Math.toIntExact(number(m.get("updates_refused"), "updates_refused").longValue()) : 0);
    }

    private static final java.util.Set<String> KEYS = java.util.Set.of("round", "status", "reason", "selected",
            "participants", "secagg_sets", "epsilon", "delta", "update_norm", "seconds", "bytes_up", "bytes_down",
            "clients_seen");

    private static Number number(Object v, String key) {
        if (v instanceof Number n) {
            return n;
        }
        throw new IllegalArgumentException("round summary '" + key + "' must be a number, got " + v);
    }

    private static double orNaN(Object v, String key) {
        return v == null ? Double.NaN : number(v, key).doubleValue();
    }

    private static String text(Object v, String key) {
        if (v instanceof String s) {
            return s;
        }
        throw new IllegalArgumentException("round summary '" + key + "' must be a string, got " + v);
    }
}
