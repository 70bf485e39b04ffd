package io.dense4j.registry;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The foreign file a version was converted from at registration (a Keras .h5 or .keras upload): the version's model
 * file is the Dense4J conversion, this records the original.
 *
 * @param format    e.g. "Keras 2 HDF5", "Keras 3.8.0 .keras"
 * @param sha256    hex SHA-256 of the original file as uploaded
 * @param sizeBytes its size
 */
public record ImportedFrom(
        @JsonProperty("format") String format,
        @JsonProperty("sha256") String sha256,
        @JsonProperty("size_bytes") long sizeBytes) {
}
