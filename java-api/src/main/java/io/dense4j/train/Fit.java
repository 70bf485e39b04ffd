package io.dense4j.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.dense4j.config.Configs;
import io.dense4j.data.Dataset;
import java.util.ArrayList;
import java.util.List;

/**
 * Settings of one {@code fit} call, built fluently: {@code Fit.epochs(5).batchSize(32).validationSplit(0.1).seed(42)}.
 * Immutable; every setter returns a copy.
 *
 * <p>Config (Keras's {@code fit} argument names): {@code {"epochs": 5, "batch_size": 32, "validation_split": 0.1,
 * "seed": 42, "shuffle": true, "initial_epoch": 0, "steps_per_epoch": null, "callbacks": [{"type":
 * "early_stopping", ...}]}}. Validation data, a cancellation and callbacks other than {@link EarlyStopping} and
 * {@link ModelCheckpoint} are runtime objects and have no config.
 */
@JsonPropertyOrder({"epochs", "batch_size", "validation_split", "seed", "shuffle", "initial_epoch", "steps_per_epoch",
        "callbacks"})
public final class Fit {
    private final int epochs;
    private final int batchSize;
    private final double validationSplit;
    private final Dataset validationData;
    private final long seed;
    private final boolean shuffle;
    private final int initialEpoch;
    private final int stepsPerEpoch;
    private final List<Callback> callbacks;
    private final Cancellation cancellation;

    private Fit(int epochs, int batchSize, double validationSplit, Dataset validationData, long seed, boolean shuffle,
                int initialEpoch, int stepsPerEpoch, List<Callback> callbacks, Cancellation cancellation) {
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
        if (initialEpoch < 0 || initialEpoch >= epochs) {
            throw new IllegalArgumentException("initial epoch must be in [0, epochs = " + epochs + "), got " + initialEpoch);
        }
        if (stepsPerEpoch < 0) {
            throw new IllegalArgumentException("steps per epoch must be >= 1 (or 0 for all the data), got " + stepsPerEpoch);
        }
        this.epochs = epochs;
        this.batchSize = batchSize;
        this.validationSplit = validationSplit;
        this.validationData = validationData;
        this.seed = seed;
        this.shuffle = shuffle;
        this.initialEpoch = initialEpoch;
        this.stepsPerEpoch = stepsPerEpoch;
        this.callbacks = List.copyOf(callbacks);
        this.cancellation = cancellation;
    }

    @JsonCreator
    static Fit fromConfig(@JsonProperty(value = "epochs", required = true) int epochs,
                          @JsonProperty("batch_size") Integer batchSize,
                          @JsonProperty("validation_split") Double validationSplit,
                          @JsonProperty("seed") Long seed, @JsonProperty("shuffle") Boolean shuffle,
                          @JsonProperty("initial_epoch") Integer initialEpoch,
                          @JsonProperty("steps_per_epoch") Integer stepsPerEpoch,
                          @JsonProperty("callbacks") List<ConfigurableCallback> callbacks) {
        return new Fit(epochs, batchSize == null ? 32 : batchSize, validationSplit == null ? 0 : validationSplit, null,
                seed == null ? 0 : seed, shuffle == null || shuffle, initialEpoch == null ? 0 : initialEpoch,
                stepsPerEpoch == null ? 0 : stepsPerEpoch,
                callbacks == null ? List.of() : List.copyOf(callbacks), null);
    }

    /** Defaults as Keras: batch 32, shuffled, no validation, seed 0. */
    public static Fit epochs(int epochs) {
        return new Fit(epochs, 32, 0, null, 0, true, 0, 0, List.of(), null);
    }

    /** Fit settings from their JSON config. */
    public static Fit fromJson(String json) {
        return Configs.fromJson(json, Fit.class);
    }

    /** A copy with another number of epochs (the static {@link #epochs(int)} starts a new one). */
    public Fit withEpochs(int n) {
        return new Fit(n, batchSize, validationSplit, validationData, seed, shuffle, initialEpoch, stepsPerEpoch,
                callbacks, cancellation);
    }

    public Fit batchSize(int b) {
        return new Fit(epochs, b, validationSplit, validationData, seed, shuffle, initialEpoch, stepsPerEpoch,
                callbacks, cancellation);
    }

    /** Holds out the LAST fraction of the training rows (before shuffling) for validation, as Keras does. */
    public Fit validationSplit(double fraction) {
        return new Fit(epochs, batchSize, fraction, validationData, seed, shuffle, initialEpoch, stepsPerEpoch,
                callbacks, cancellation);
    }

    public Fit validationData(Dataset data) {
        return new Fit(epochs, batchSize, validationSplit, data, seed, shuffle, initialEpoch, stepsPerEpoch,
                callbacks, cancellation);
    }

    /** Seeds weight initialization (of a model not trained before), shuffling and dropout. */
    public Fit seed(long s) {
        return new Fit(epochs, batchSize, validationSplit, validationData, s, shuffle, initialEpoch, stepsPerEpoch,
                callbacks, cancellation);
    }

    public Fit shuffle(boolean s) {
        return new Fit(epochs, batchSize, validationSplit, validationData, seed, s, initialEpoch, stepsPerEpoch,
                callbacks, cancellation);
    }

    /**
     * Starts at this (0-based) epoch, as Keras's {@code initial_epoch}: to resume a fit from a checkpoint saved after
     * epoch {@code e}, load it and fit with {@code initialEpoch(e + 1)} (1-based {@code {epoch}} file names are this
     * value). Shuffles and dropout masks are those the uninterrupted fit would have drawn for the remaining epochs,
     * and epoch-based schedules continue, so a checkpoint with optimizer state resumes exactly.
     */
    public Fit initialEpoch(int epoch) {
        return new Fit(epochs, batchSize, validationSplit, validationData, seed, shuffle, epoch, stepsPerEpoch,
                callbacks, cancellation);
    }

    /**
     * Runs at most this many steps per epoch (on the first batches of the epoch's shuffled order), as Keras's
     * {@code steps_per_epoch}; 0 (default) runs through all the data. A data-parallel worker that runs H local steps
     * between averages fits {@code epochs(1).stepsPerEpoch(H)}.
     */
    public Fit stepsPerEpoch(int steps) {
        return new Fit(epochs, batchSize, validationSplit, validationData, seed, shuffle, initialEpoch, steps,
                callbacks, cancellation);
    }

    public Fit callbacks(Callback... cbs) {
        List<Callback> all = new ArrayList<>(callbacks);
        all.addAll(List.of(cbs));
        return new Fit(epochs, batchSize, validationSplit, validationData, seed, shuffle, initialEpoch, stepsPerEpoch,
                all, cancellation);
    }

    /** Lets another thread stop this fit within one chunk of steps; see {@link Cancellation}. */
    public Fit cancellation(Cancellation c) {
        return new Fit(epochs, batchSize, validationSplit, validationData, seed, shuffle, initialEpoch, stepsPerEpoch,
                callbacks, c);
    }

    @JsonProperty("epochs")
    public int epochs() {
        return epochs;
    }

    @JsonProperty("batch_size")
    public int batchSize() {
        return batchSize;
    }

    @JsonProperty("validation_split")
    public double validationSplit() {
        return validationSplit;
    }

    @JsonIgnore
    public Dataset validationData() {
        return validationData;
    }

    @JsonProperty("seed")
    public long seed() {
        return seed;
    }

    @JsonProperty("shuffle")
    public boolean shuffle() {
        return shuffle;
    }

    @JsonProperty("initial_epoch")
    public int initialEpoch() {
        return initialEpoch;
    }

    /** The step limit per epoch, 0 for none. */
    @JsonIgnore
    public int stepsPerEpoch() {
        return stepsPerEpoch;
    }

    @JsonProperty("steps_per_epoch")
    @JsonInclude(JsonInclude.Include.ALWAYS)
    Integer stepsPerEpochOrNull() {
        return stepsPerEpoch > 0 ? stepsPerEpoch : null;
    }

    @JsonIgnore
    public List<Callback> callbacks() {
        return callbacks;
    }

    /** The built-in callbacks as a config lists them; a callback without a config cannot be written. */
    @JsonProperty("callbacks")
    List<ConfigurableCallback> callbackConfigs() {
        List<ConfigurableCallback> out = new ArrayList<>();
        for (Callback c : callbacks) {
            if (!(c instanceof ConfigurableCallback cc)) {
                throw new IllegalArgumentException("callback " + c.getClass().getName()
                        + " has no config (only early_stopping and model_checkpoint have)");
            }
            out.add(cc);
        }
        return out;
    }

    /** The cancellation this fit watches, or null. */
    @JsonIgnore
    public Cancellation cancellation() {
        return cancellation;
    }

    /** The JSON config of these settings. */
    public String toJson() {
        return Configs.toJson(this);
    }
}
