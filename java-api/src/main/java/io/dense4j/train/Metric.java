package io.dense4j.train;

/**
 * A metric reported by fit (per epoch) and evaluate. Accuracy is computed inside the training kernels;
 * top-k accuracy is computed at evaluation from the predicted probabilities.
 */
public record Metric(String name, int k) {
    public static Metric accuracy() {
        return new Metric("accuracy", 1);
    }

    public static Metric topK(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("top-k needs k >= 1, got " + k);
        }
        return new Metric("top_" + k + "_accuracy", k);
    }
}
