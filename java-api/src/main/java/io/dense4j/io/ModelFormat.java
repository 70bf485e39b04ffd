package io.dense4j.io;

import io.dense4j.model.ModelState;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * A foreign model format (Keras, ONNX) that Dense4J can import from and/or export to. Implementations live in the
 * {@code dense4j-interop} module and are found with {@link ServiceLoader}, so the core API carries no HDF5 or protobuf
 * library; {@code Models.importKeras}, {@code Sequential.exportKeras} and the registry reach them through here. A
 * format converts files to and from a {@link ModelState} (plain values: config, weights, metadata), never a live
 * model, so converting needs no native memory and this package depends on no model class.
 */
public interface ModelFormat {
    /** Short lower-case name: "keras", "onnx". */
    String name();

    /** Whether {@code file}'s content (not its name) is a model of this format that {@link #importModel} reads. */
    default boolean recognizes(Path file) throws IOException {
        return false;
    }

    /**
     * Reads a model of this format as a validated state. Fails with {@link ModelFormatException} naming the file and
     * the reason (an unsupported layer names the layer and its class).
     */
    default ModelState importModel(Path file) {
        throw new UnsupportedOperationException("Dense4J cannot import " + name() + " models");
    }

    /** Writes {@code model} in this format to {@code file} (atomically: a temporary file renamed into place). */
    default void exportModel(ModelState model, Path file) {
        throw new UnsupportedOperationException("Dense4J cannot export " + name() + " models");
    }

    /** Every format on the class path. */
    static List<ModelFormat> available() {
        List<ModelFormat> all = new ArrayList<>();
        ServiceLoader.load(ModelFormat.class, ModelFormat.class.getClassLoader()).forEach(all::add);
        return all;
    }

    /**
     * The format called {@code name}.
     *
     * @throws UnsupportedOperationException saying what to add when the format's module is not on the class path
     */
    static ModelFormat named(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (ModelFormat f : available()) {
            if (f.name().equals(n)) {
                return f;
            }
        }
        throw new UnsupportedOperationException("no '" + n + "' model format on the class path: it comes with the "
                + "io.dense4j:dense4j-interop module (formats here: " + available().stream().map(ModelFormat::name).toList() + ")");
    }

    /** The importable format whose content {@code file} has, if any. */
    static Optional<ModelFormat> recognizing(Path file) throws IOException {
        for (ModelFormat f : available()) {
            if (f.recognizes(file)) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }
}
