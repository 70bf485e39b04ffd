package io.dense4j.train;

import io.dense4j.data.Dataset;
import java.util.ArrayList;
import java.util.List;

/**
 * Settings of one {@code fit} call, built fluently: {@code Fit.epochs(5).batchSize(32).validationSplit(0.1).seed(42)}.
 * Immutable; every setter returns a copy.
 */
public final class Fit {
    private final int epochs;
    private final int batchSize;
    private final double validationSplit;
    private final Dataset validationData;
    private final long seed;
    private final boolean shuffle;
    private final List<Callback> callbacks;

    private Fit(int epochs, int batchSize, double validationSplit, Dataset validationData, long seed, boolean shuffle,
                List<Callback> callbacks) {
        if (epochs < 1) {
            throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        if (!(validationSplit >= 0 && validationSplit < 1)) {
            throw new IllegalArgumentException("validation split must be in [0, 1), got " + validationSplit);
        }
        if (validationSplit > 0 && validationData != null) {
            throw new IllegalArgumentException("give either a validation split or validation data, not both");
        }
        this.epochs = epochs;
        this.batchSize = batchSize;
        this.validationSplit = validationSplit;
        this.validationData = validationData;
        this.seed = seed;
        this.shuffle = shuffle;
        this.callbacks = List.copyOf(callbacks);
    }

    /** Defaults as Keras: batch 32, shuffled, no validation, seed 0. */
    public static Fit epochs(int epochs) {
        return new Fit(epochs, 32, 0, null, 0, true, List.of());
    }

    public Fit batchSize(int b) {
        return new Fit(epochs, b, validationSplit, validationData, seed, shuffle, callbacks);
    }

    /** Holds out the LAST fraction of the training rows (before shuffling) for validation, as Keras does. */
    public Fit validationSplit(double fraction) {
        return new Fit(epochs, batchSize, fraction, validationData, seed, shuffle, callbacks);
    }

    public Fit validationData(Dataset data) {
        return new Fit(epochs, batchSize, validationSplit, data, seed, shuffle, callbacks);
    }

    /** Seeds weight initialization (of a model not trained before), shuffling and dropout. */
    public Fit seed(long s) {
        return new Fit(epochs, batchSize, validationSplit, validationData, s, shuffle, callbacks);
    }

    public Fit shuffle(boolean s) {
        return new Fit(epochs, batchSize, validationSplit, validationData, seed, s, callbacks);
    }

    public Fit callbacks(Callback... cbs) {
        List<Callback> all = new ArrayList<>(callbacks);
        all.addAll(List.of(cbs));
        return new Fit(epochs, batchSize, validationSplit, validationData, seed, shuffle, all);
    }

    public int epochs() {
        return epochs;
    }

    public int batchSize() {
        return batchSize;
    }

    public double validationSplit() {
        return validationSplit;
    }

    public Dataset validationData() {
        return validationData;
    }

    public long seed() {
        return seed;
    }

    public boolean shuffle() {
        return shuffle;
    }

    public List<Callback> callbacks() {
        return callbacks;
    }
}
