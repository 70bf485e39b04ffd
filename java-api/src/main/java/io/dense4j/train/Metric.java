package io.dense4j.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A metric reported by fit (per epoch) and evaluate. Accuracy is computed inside the training kernels;
 * top-k accuracy is computed at evaluation from the predicted probabilities. In configs: the name,
 * {@code "accuracy"} or {@code "top_5_accuracy"}.
 */
public record Metric(String name, int k) {
    private static final Pattern TOP_K = Pattern.compile("top_(\\d{1,9})_accuracy");

    public static Metric accuracy() {
        return new Metric("accuracy", 1);
    }

    public static Metric topK(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("top-k needs k >= 1, got " + k);
        }
        return new Metric("top_" + k + "_accuracy", k);
    }

    @JsonValue
    String configName() {
        return name;
    }

    /** A metric by its config name: "accuracy" or "top_K_accuracy". */
    @JsonCreator
    public static Metric fromName(String name) {
        String n = name.trim();
        if (n.equals("accuracy") || n.equals("acc")) {
            return accuracy();
        }
        Matcher m = TOP_K.matcher(n);
        if (m.matches()) {
            return topK(Integer.parseInt(m.group(1)));
        }
        throw new IllegalArgumentException("unknown metric '" + name + "': expected accuracy or top_K_accuracy");
    }
}
