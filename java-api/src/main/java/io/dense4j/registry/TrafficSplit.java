package io.dense4j.registry;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A canary split of a model's default route: {@code canaryPercent}% of the requests that name no version go
 * to {@code canary}, the rest to {@code baseline}. Stored in the registry beside the aliases
 * ({@code <model>/traffic.json}, replaced atomically, every change in the history), so it survives restarts
 * and every server sharing the registry routes the same way.
 */
public record TrafficSplit(
        @JsonProperty("baseline") int baseline,
        @JsonProperty("canary") int canary,
        @JsonProperty("canary_percent") int canaryPercent) {

    public TrafficSplit {
        if (baseline < 1 || canary < 1) {
            throw new RegistryException(RegistryException.Kind.INVALID, "traffic split versions must be positive, got "
                    + baseline + " and " + canary);
        }
        if (canaryPercent < 0 || canaryPercent > 100) {
            throw new RegistryException(RegistryException.Kind.INVALID,
                    "canary_percent must be between 0 and 100, got " + canaryPercent);
        }
    }

    /** True when the split sends requests to {@code version}. */
    public boolean uses(int version) {
        return baseline == version || canary == version;
    }
}
