package io.dense4j.http;

import io.dense4j.Sequential;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;

import java.nio.file.Path;
import java.util.List;

/** Creates small model files for the server tests, through the public API only. */
public final class TestModels {
    private TestModels() {
    }

    /**
     * Writes a small 4-input, 3-output softmax model to {@code file}; different seeds give different
     * weights. The only place these tests create a model.
     */
    public static Path writeModel(Path file, long seed) {
        try (Sequential m = Sequential.of(Dense.of(4, 3, Activation.SOFTMAX))) {
            m.initialize(seed).classNames(List.of("setosa", "versicolor", "virginica"));
            m.save(file);
        }
        return file;
    }
}
