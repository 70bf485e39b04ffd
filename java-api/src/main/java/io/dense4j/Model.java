package io.dense4j;

import io.dense4j.tensor.Device;
import java.nio.file.Path;
import java.util.List;

/**
 * A trained network that can predict, be saved and be loaded; {@link Sequential} is the model you build
 * and train. Models own native memory: close them (try-with-resources) when done.
 */
public abstract class Model implements AutoCloseable {
    Model() {}

    /**
     * Loads a model saved by {@link #save(Path)}.
     *
     * @throws io.dense4j.io.ModelFormatException with a message naming the file and the problem when it is
     *         missing, truncated, corrupt or inconsistent
     */
    public static Model load(Path file) {
        return Sequential.load(file);
    }

    /** Saves architecture, weights, preprocessing and training metadata to one file, atomically. */
    public abstract void save(Path file);

    /** Number of input features. */
    public abstract int inputSize();

    /** Number of outputs (classes for a classifier). */
    public abstract int outputSize();

    /** Class names saved with the model (may be empty). */
    public abstract List<String> classNames();

    /** Activated outputs (probabilities for softmax/sigmoid) for each row. Thread-safe. */
    public abstract float[][] predict(float[][] rows);

    /** Activated outputs for one row. Thread-safe. */
    public abstract float[] predict(float[] row);

    /**
     * Moves the model to a device (see {@link Sequential#to(Device)}) and returns it.
     *
     * @throws UnsupportedOperationException saying why when that device cannot be used here
     */
    public abstract Model to(Device device);

    /** The device the model runs on. */
    public abstract Device device();

    /** Frees native memory now. */
    @Override
    public abstract void close();
}
