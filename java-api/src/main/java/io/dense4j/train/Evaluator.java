package io.dense4j.train;

import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import io.dense4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Evaluation metrics, the same for every backend: one forward pass of the target's backend gives the outputs and
 * the loss stats, and this class derives accuracy, top-k accuracy, the confusion matrix and per-class
 * precision / recall / F1 ({@link Evaluation}) from them.
 */
public final class Evaluator {
    private Evaluator() {}

    /**
     * Loss, accuracy, confusion matrix, per-class precision/recall/F1 and any top-k metric compiled in.
     *
     * @throws IllegalStateException the target is not compiled
     * @throws IllegalArgumentException the data does not suit the model
     */
    public static Evaluation evaluate(TrainingTarget target, Dataset data) {
        Loss loss = target.loss();
        if (loss == null) {
            throw new IllegalStateException("compile the model (loss) before evaluate");
        }
        int k = target.outputSize();
        DataChecks.check(data, "evaluation data", target.inputSize(), k, loss);
        target.initializeIfNeeded(0);
        Normalizer normalizer = target.preprocessing();
        Dataset d = data;
        try {
            if (normalizer != null) {
                d = data.floatCopy();
                normalizer.apply(d.features());
            }
            int n = d.size();
            try (Tensor probs = Tensor.zeros(n, k)) {
                LossStats st = target.forward(d, probs);
                double meanLoss = st.lossSum() / st.rows();
                if (!loss.hasAccuracy()) {
                    return new Evaluation(n, meanLoss, Double.NaN, null, Map.of(), target.classNames());
                }
                return classification(loss, target.metrics(), target.classNames(), d, probs.toFloatArray(), k,
                        meanLoss, st.correct() / (st.rows() * loss.accuracyDivisor(k)));
            }
        } finally {
            if (d != data) {
                d.close();
            }
        }
    }

    /** Confusion matrix and top-k accuracies from the outputs {@code p} [n, k] of a classifier. */
    static Evaluation classification(Loss loss, List<Metric> metrics, List<String> classNames, Dataset d, float[] p,
                                     int k, double meanLoss, double accuracy) {
        int n = d.size();
        int[] truth = trueClasses(d, k);
        int classes = loss == Loss.BINARY_CROSSENTROPY && k == 1 ? 2 : k;
        int[][] confusion = new int[classes][classes];
        Map<Integer, Double> topK = new TreeMap<>();
        topK.put(1, accuracy);
        List<Integer> ks = new ArrayList<>();
        for (Metric m : metrics) {
            if (m.k() > 1) {
                ks.add(m.k());
            }
        }
        long[] topHits = new long[ks.size()];
        for (int r = 0; r < n; r++) {
            int pred = classes == 2 && k == 1 ? (p[r] >= 0.5f ? 1 : 0) : argmax(p, r * k, k);
            confusion[truth[r]][pred]++;
            for (int j = 0; j < ks.size(); j++) {
                if (rankOf(p, r * k, k, truth[r]) < ks.get(j)) {
                    topHits[j]++;
                }
            }
        }
        for (int j = 0; j < ks.size(); j++) {
            topK.put(ks.get(j), (double) topHits[j] / n);
        }
        return new Evaluation(n, meanLoss, topK.get(1), confusion, topK, classNames);
    }

    private static int[] trueClasses(Dataset d, int k) {
        if (d.labels() != null) {
            return d.labels().toIntArray();
        }
        int n = d.size();
        float[] t = d.targets().toFloatArray();
        int[] c = new int[n];
        for (int r = 0; r < n; r++) {
            c[r] = k == 1 ? (t[r] >= 0.5f ? 1 : 0) : argmax(t, r * k, k);
        }
        return c;
    }

    /** Index of the largest of v[off, off + k) (the first on ties). */
    public static int argmax(float[] v, int off, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (v[off + j] > v[off + best]) {
                best = j;
            }
        }
        return best;
    }

    /** How many classes score strictly higher than class c (0 = top-1). */
    private static int rankOf(float[] v, int off, int k, int c) {
        int rank = 0;
        for (int j = 0; j < k; j++) {
            if (v[off + j] > v[off + c]) {
                rank++;
            }
        }
        return rank;
    }
}
