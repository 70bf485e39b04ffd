package io.dense4j.federated.protocol;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a selected client must do in a round, sent with the global weights: the local training (E epochs at a
 * default batch size, FedProx's μ) and how to turn its update into the vector it uploads (clip, weight,
 * whether it is masked). Everything the server will assume about the uploaded vectors is here, so a client
 * can check it before taking part.
 *
 * @param epochs             local epochs E
 * @param batchSize          the batch size a client uses unless it sets its own
 * @param proxMu             FedProx μ (0: plain FedAvg)
 * @param proxEverySteps     local steps between two applications of the proximal operator (FedProx only)
 * @param clipNorm           L2 bound S of the update (0: no clipping; then no secure aggregation or DP)
 * @param uniformWeights     every update has weight 1 (DP-FedAvg), else weight min(n_k, cap)/cap as an extra coordinate
 * @param exampleWeightCap   the cap on n_k of example-count weighting
 * @param secureAggregation  updates are quantized and masked (the server only sees their sum)
 */
public record TrainingPlan(int epochs, int batchSize, double proxMu, int proxEverySteps, double clipNorm,
                           boolean uniformWeights, long exampleWeightCap, boolean secureAggregation) {
    public TrainingPlan {
        if (epochs < 1) {
            throw new IllegalArgumentException("local epochs must be >= 1, got " + epochs);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        if (!(proxMu >= 0) || Double.isInfinite(proxMu)) {
            throw new IllegalArgumentException("FedProx mu must be finite and >= 0, got " + proxMu);
        }
        if (proxEverySteps < 1) {
            throw new IllegalArgumentException("proximal steps interval must be >= 1, got " + proxEverySteps);
        }
        if (!(clipNorm >= 0) || Double.isInfinite(clipNorm)) {
            throw new IllegalArgumentException("clip norm must be finite and >= 0, got " + clipNorm);
        }
        if (exampleWeightCap < 1) {
            throw new IllegalArgumentException("example weight cap must be >= 1, got " + exampleWeightCap);
        }
        if (secureAggregation && clipNorm == 0) {
            throw new IllegalArgumentException("secure aggregation needs a clip norm (the masked sum is fixed-point)");
        }
    }

    /** Length of the uploaded vector for a model of {@code parameters} parameters. */
    public int vectorLength(int parameters) {
        return uniformWeights ? parameters : parameters + 1;
    }

    /** Largest absolute value of an uploaded coordinate (the quantization range). */
    public double coordinateBound() {
        return uniformWeights ? clipNorm : Math.max(clipNorm, 1.0);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("epochs", epochs);
        m.put("batch_size", batchSize);
        m.put("prox_mu", proxMu);
        m.put("prox_every_steps", proxEverySteps);
        m.put("clip_norm", clipNorm);
        m.put("uniform_weights", uniformWeights);
        m.put("example_weight_cap", exampleWeightCap);
        m.put("secure_aggregation", secureAggregation);
        return m;
    }

    static TrainingPlan from(Fields f) {
        try {
            TrainingPlan p = new TrainingPlan((int) f.integer("epochs", 1, 10_000), (int) f.integer("batch_size", 1, 1 << 24),
                    f.number("prox_mu", 0, 1e6), (int) f.integer("prox_every_steps", 1, 1 << 24),
                    f.number("clip_norm", 0, 1e9), f.bool("uniform_weights"),
                    f.integer("example_weight_cap", 1, Long.MAX_VALUE), f.bool("secure_aggregation"));
            f.done();
            return p;
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, "training plan: " + e.getMessage());
        }
    }
}
