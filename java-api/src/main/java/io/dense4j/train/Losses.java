package io.dense4j.train;

/** Keras-style constants for {@link Loss}: {@code Losses.SPARSE_CATEGORICAL_CROSSENTROPY}. */
public final class Losses {
    public static final Loss SPARSE_CATEGORICAL_CROSSENTROPY = Loss.SPARSE_CATEGORICAL_CROSSENTROPY;
    public static final Loss CATEGORICAL_CROSSENTROPY = Loss.CATEGORICAL_CROSSENTROPY;
    public static final Loss BINARY_CROSSENTROPY = Loss.BINARY_CROSSENTROPY;
    public static final Loss MEAN_SQUARED_ERROR = Loss.MEAN_SQUARED_ERROR;

    private Losses() {}
}
