package io.dense4j.service.job;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.tune.Json;

/**
 * Something a running job reports, for logs and live streams (Server-Sent Events): a {@code kind} and a JSON
 * payload. Kinds: {@code phase} (what it is doing now), {@code progress} (within an epoch: step, running loss and
 * accuracy, ETA), {@code epoch} (an epoch's metrics), {@code trial_epoch} (an epoch of one fold of a tuning trial), {@code trial} (a
 * tuning trial's record after each rung, failure or stop).
 */
public record JobEvent(String kind, ObjectNode payload) {
    public static JobEvent of(String kind) {
        return new JobEvent(kind, Json.MAPPER.createObjectNode());
    }

    public String payloadJson() {
        return payload.toString();
    }
}
