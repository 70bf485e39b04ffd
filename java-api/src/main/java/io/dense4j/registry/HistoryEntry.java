package io.dense4j.registry;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * One line of a model's append-only history ({@code history.jsonl}).
 *
 * @param time     ISO-8601 instant
 * @param actor    who did it
 * @param action   one of {@code register}, {@code alias}, {@code unalias}, {@code rollback}, {@code delete},
 *                 {@code traffic} (a canary split set), {@code untraffic} (cleared)
 * @param model    model name
 * @param version  the version registered, deleted, or that the alias now points at (null for unalias)
 * @param alias    the alias moved (alias, unalias, rollback), else null
 * @param previous the version the alias pointed at before (null if none)
 * @param sourceSha256 for a version converted from a Keras file at registration, that file's SHA-256, else null
 * @param traffic  the split set by a {@code traffic} entry, the one cleared by {@code untraffic}, else null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record HistoryEntry(
        @JsonProperty("time") String time,
        @JsonProperty("actor") String actor,
        @JsonProperty("action") String action,
        @JsonProperty("model") String model,
        @JsonProperty("version") Integer version,
        @JsonProperty("alias") String alias,
        @JsonProperty("previous") Integer previous,
        @JsonProperty("source_sha256") String sourceSha256,
        @JsonProperty("traffic") TrafficSplit traffic) {

    public HistoryEntry(String time, String actor, String action, String model, Integer version, String alias,
                        Integer previous) {
        this(time, actor, action, model, version, alias, previous, null, null);
    }

    public static final String REGISTER = "register";
    public static final String ALIAS = "alias";
    public static final String UNALIAS = "unalias";
    public static final String ROLLBACK = "rollback";
    public static final String DELETE = "delete";
    public static final String TRAFFIC = "traffic";
    public static final String UNTRAFFIC = "untraffic";
}
