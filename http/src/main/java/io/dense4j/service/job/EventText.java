package io.dense4j.service.job;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * One job event as a line of text for people (the job log, {@code dense4j jobs watch}): an epoch's metrics and
 * ETA, a phase, a state change, a trial's result.
 */
public final class EventText {
    private EventText() {}

    public static String describe(String kind, JsonNode p) {
        return switch (kind) {
            case "state" -> state(p);
            case "phase" -> p.path("phase").asText() + (p.hasNonNull("detail") ? ": " + p.get("detail").asText() : "");
            case "epoch" -> "epoch " + p.path("epoch").asInt() + (p.has("epochs") ? "/" + p.get("epochs").asInt() : "")
                    + metrics(p, "loss", "accuracy", "val_loss", "val_accuracy")
                    + (p.hasNonNull("seconds") ? String.format(Locale.ROOT, "  %.1f s", p.get("seconds").asDouble()) : "")
                    + eta(p);
            case "progress" -> "epoch " + p.path("epoch").asInt() + "/" + p.path("epochs").asInt() + "  step "
                    + p.path("step").asInt() + "/" + p.path("steps").asInt() + metrics(p, "loss", "accuracy") + eta(p);
            case "trial_epoch" -> "trial " + p.path("trial").asInt() + " fold " + p.path("fold").asInt() + " epoch "
                    + p.path("epoch").asInt() + metrics(p, "loss", "accuracy");
            case "trial" -> "trial " + p.path("id").asInt() + " " + p.path("state").asText() + " after "
                    + p.path("epochs").asInt() + " epochs" + (p.hasNonNull("score") ? String.format(Locale.ROOT,
                    "  score %.4f", p.get("score").asDouble()) : "") + "  " + params(p.path("params"))
                    + (p.hasNonNull("error") ? "  error: " + p.get("error").asText() : "");
            case "cancel_requested" -> "cancel requested";
            default -> withoutTime(p).toString();
        };
    }

    /** The payload without the {@code at} a live stream adds (the line is stamped with it already). */
    private static JsonNode withoutTime(JsonNode p) {
        if (p instanceof com.fasterxml.jackson.databind.node.ObjectNode o && o.has("at")) {
            com.fasterxml.jackson.databind.node.ObjectNode copy = o.deepCopy();
            copy.remove("at");
            return copy;
        }
        return p;
    }

    private static String state(JsonNode p) {
        StringBuilder sb = new StringBuilder(p.path("state").asText("?"));
        if (p.has("attempt")) {
            sb.append(" (attempt ").append(p.get("attempt").asInt()).append(')');
        }
        if (p.hasNonNull("reason")) {
            sb.append(": ").append(p.get("reason").asText());
        }
        if (p.hasNonNull("error")) {
            sb.append(": ").append(p.get("error").asText());
        }
        return sb.toString();
    }

    private static String metrics(JsonNode p, String... keys) {
        StringBuilder sb = new StringBuilder();
        for (String k : keys) {
            if (p.hasNonNull(k)) {
                sb.append(String.format(Locale.ROOT, "  %s %.4f", k, p.get(k).asDouble()));
            }
        }
        return sb.toString();
    }

    private static String eta(JsonNode p) {
        if (!p.hasNonNull("eta_seconds")) {
            return "";
        }
        long s = Math.round(p.get("eta_seconds").asDouble());
        return "  ETA " + (s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60));
    }

    private static String params(JsonNode params) {
        StringBuilder sb = new StringBuilder("{");
        for (Iterator<Map.Entry<String, JsonNode>> it = params.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            sb.append(e.getKey()).append('=').append(e.getValue());
            if (it.hasNext()) {
                sb.append(", ");
            }
        }
        return sb.append('}').toString();
    }
}
