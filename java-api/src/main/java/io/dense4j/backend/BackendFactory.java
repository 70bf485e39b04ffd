package io.dense4j.backend;

import io.dense4j.layers.Architecture;

/**
 * Creates a backend for an architecture (parameters and optimizer state allocated, zeroed). The built-in CPU and
 * CUDA backends are chosen by {@code Sequential.to(Device)}; any other one is attached with
 * {@code Sequential.to(BackendFactory)}, which moves the model's parameters and optimizer state into it.
 */
@FunctionalInterface
public interface BackendFactory {
    Backend create(Architecture architecture);
}
