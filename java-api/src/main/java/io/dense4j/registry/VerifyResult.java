package io.dense4j.registry;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The outcome of checking one version's model file against the SHA-256 recorded at registration.
 *
 * @param model    model name
 * @param version  version number
 * @param ok       true when the file exists and its digest matches
 * @param expected recorded digest
 * @param actual   digest computed now (null when the file is missing or unreadable)
 * @param message  "ok" or what is wrong
 */
public record VerifyResult(
        @JsonProperty("model") String model,
        @JsonProperty("version") int version,
        @JsonProperty("ok") boolean ok,
        @JsonProperty("expected") String expected,
        @JsonProperty("actual") String actual,
        @JsonProperty("message") String message) {
}
