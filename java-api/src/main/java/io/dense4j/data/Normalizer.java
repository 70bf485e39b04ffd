package io.dense4j.data;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.dense4j.config.Configs;
import io.dense4j.tensor.Tensor;
import java.util.Map;
import java.util.Objects;

/**
 * A per-feature transform of the features, fitted on training data only and then applied unchanged to
 * validation, test and inference inputs (fitting on test data would leak its statistics into the model).
 *
 * <p>A normalizer is saved with a model through {@link #config()}, a JSON-friendly map
 * ({@code "type"} plus number lists such as {@code "mean"} and {@code "std"}) that {@link #fromConfig}
 * turns back into an equal normalizer.
 *
 * <pre>{@code
 * Normalizer norm = Normalizer.standardize().fit(train);
 * norm.apply(train.features());
 * norm.apply(test.features());
 * }</pre>
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({@JsonSubTypes.Type(value = ScaleNormalizer.class, name = ScaleNormalizer.TYPE),
        @JsonSubTypes.Type(value = MinMaxNormalizer.class, name = MinMaxNormalizer.TYPE),
        @JsonSubTypes.Type(value = StandardNormalizer.class, name = StandardNormalizer.TYPE)})
public interface Normalizer {

    /**
     * Computes the statistics of {@code train}'s features; returns this normalizer. Fitting again replaces
     * the statistics. Normalizers without statistics ({@link #scale}) ignore the data.
     *
     * @throws IllegalArgumentException empty data, or a feature with a non-finite value
     */
    Normalizer fit(Dataset train);

    /** As {@link #fit(Dataset)}, from a float32 feature tensor {@code [N, d]}. */
    Normalizer fit(Tensor features);

    /**
     * As {@link #fit(Dataset)}, from statistics computed elsewhere (e.g. summed over the partitions of a
     * distributed data set); returns this normalizer.
     *
     * @throws UnsupportedOperationException a normalizer that cannot be fitted from these statistics
     */
    default Normalizer fit(FeatureStats stats) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot be fitted from FeatureStats");
    }

    /**
     * Transforms {@code features} (float32 {@code [N, d]}, {@code d} the fitted feature count) in place.
     *
     * @throws IllegalStateException when the normalizer needs fitting and was not fitted
     * @throws IllegalArgumentException on a shape mismatch
     */
    void apply(Tensor features);

    /**
     * Transforms one row (length d) in place, exactly as {@link #apply(Tensor)} transforms each row; used by
     * predict, which receives rows rather than tensors.
     */
    void applyRow(float[] row);

    /** {@link #apply(Tensor)} to the features of {@code data}. */
    default void apply(Dataset data) {
        apply(data.features());
    }

    /** Whether {@link #apply} can run: always for {@link #scale}, after {@link #fit} for the others. */
    boolean isFitted();

    /**
     * The normalizer as JSON-friendly values: {@code "type"} ("scale", "minmax" or "standardize") and its
     * parameters ({@code "scale"}: a number; {@code "min"}/{@code "max"} or {@code "mean"}/{@code "std"}:
     * lists of numbers, absent when not fitted). The map is a fresh copy.
     */
    default Map<String, Object> config() {
        return Configs.toMap(this);
    }

    /**
     * Rebuilds a normalizer from {@link #config()}, also after a JSON round trip (numbers as any
     * {@link Number}, lists as any {@link java.util.List} or float/double array).
     *
     * @throws IllegalArgumentException unknown type, missing or malformed parameters
     */
    static Normalizer fromConfig(Map<String, ?> config) {
        Objects.requireNonNull(config, "config");
        return Configs.fromMap(config, Normalizer.class);
    }

    /** Multiplies every value by {@code factor} (e.g. {@code 1/255f} for raw pixels); needs no fitting. */
    static Normalizer scale(float factor) {
        return new ScaleNormalizer(factor);
    }

    /**
     * Maps each feature linearly so that its training minimum becomes 0 and maximum 1 (values of other data
     * may fall outside [0, 1]; they are not clipped). A constant feature becomes 0.
     */
    static Normalizer minMax() {
        return new MinMaxNormalizer();
    }

    /**
     * Subtracts each feature's training mean and divides by its training standard deviation (population,
     * as scikit-learn's StandardScaler); a constant feature's standard deviation is taken as 1.
     */
    static Normalizer standardize() {
        return new StandardNormalizer();
    }
}
