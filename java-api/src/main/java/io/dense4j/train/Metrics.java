package io.dense4j.train;

/** Keras-style constants: {@code Metrics.ACCURACY}, {@code Metrics.topK(5)}. */
public final class Metrics {
    public static final Metric ACCURACY = Metric.accuracy();

    public static Metric topK(int k) {
        return Metric.topK(k);
    }

    private Metrics() {}
}
