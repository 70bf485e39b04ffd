package io.dense4j;

import io.dense4j.io.ModelFormat;
import io.dense4j.model.ModelState;
import java.nio.file.Path;

/**
 * Models made elsewhere, brought into Dense4J. The formats come with the {@code dense4j-interop} module.
 *
 * <pre>{@code
 * try (Sequential m = Models.importKeras(Path.of("mnist_model.h5"))) {   // Keras 2 .h5, Keras 3 .keras or .h5
 *     float[] p = m.predict(row);                                     // what Keras's predict gives
 *     m.save(Path.of("mnist.d4j"));
 * }
 * }</pre>
 */
public final class Models {
    private Models() {}

    /**
     * Imports a Keras model: architecture, weights and, where Dense4J has them, the compiled optimizer, loss and
     * metrics (so {@code fit} continues training).
     *
     * @throws io.dense4j.io.ModelFormatException naming the file and the problem, e.g. the first layer Dense4J does
     *         not support (its name and class)
     */
    public static Sequential importKeras(Path file) {
        ModelState state = ModelFormat.named("keras").importModel(file);
        try {
            return Sequential.fromState(state);
        } catch (RuntimeException e) {
            throw new io.dense4j.io.ModelFormatException(file + ": " + e.getMessage(), e);
        }
    }
}
