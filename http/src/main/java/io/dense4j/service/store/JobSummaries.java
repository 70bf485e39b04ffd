package io.dense4j.service.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.tune.Json;
import java.util.List;

/**
 * What a list of jobs shows of a job's spec and result, computed once when the job is queued or finishes and kept in
 * their own columns: listing jobs then reads neither specs nor results (a tune job's result holds every trial).
 */
public final class JobSummaries {
    /** The parts of a result a list shows: metrics, the registered version, the promotion decision. */
    static final List<String> RESULT_KEYS = List.of("metrics", "registered", "promotion", "best_trial", "evaluation");

    private JobSummaries() {}

    /** The spec's "name" ("" when it has none). */
    public static String name(JsonNode spec) {
        return spec.path("name").asText("");
    }

    /** The spec's "register_as", or null. */
    public static String registerAs(JsonNode spec) {
        return spec.hasNonNull("register_as") ? spec.get("register_as").asText() : null;
    }

    /** The headline of a result (JSON), or null for none. */
    public static ObjectNode ofResult(JsonNode result) {
        if (result == null || result.isNull()) {
            return null;
        }
        ObjectNode s = Json.MAPPER.createObjectNode();
        for (String k : RESULT_KEYS) {
            if (result.has(k)) {
                s.set(k, result.get(k));
            }
        }
        return s;
    }

    static String ofResult(String result) {
        return result == null ? null : ofResult(Json.parse(result)).toString();
    }
}
