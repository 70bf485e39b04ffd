package io.dense4j.http;

import io.dense4j.Model;

import java.nio.file.Path;
import java.util.List;

/** Creates small model files for the server tests, through the public API only. */
public final class TestModels {
    private TestModels() {
    }

    /**
     * Writes a small 4-input, 3-output softmax model to {@code file}; different seeds give different
     * weights. The only place these tests create a model: switch it to the engine's
     * {@code Sequential.of(Dense.of(4, 3, Activation.SOFTMAX))} when the engine lands.
     */
    public static Path writeModel(Path file, long seed) {
        try (Model m = Model.temporaryStub(4, 3, seed, List.of("setosa", "versicolor", "virginica"))) {
            m.save(file);
        }
        return file;
    }
}
