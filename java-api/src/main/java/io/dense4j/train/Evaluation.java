package io.dense4j.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Results of {@code evaluate}: mean loss and accuracy over the rows, and for classifiers the confusion
 * matrix (rows = true class, columns = predicted class), per-class precision / recall / F1 and top-k accuracy.
 */
public final class Evaluation {
    private final long rows;
    private final double loss;
    private final double accuracy;
    private final int[][] confusion;
    private final Map<Integer, Double> topK;
    private final List<String> classNames;

    public Evaluation(long rows, double loss, double accuracy, int[][] confusion, Map<Integer, Double> topK,
                      List<String> classNames) {
        this.rows = rows;
        this.loss = loss;
        this.accuracy = accuracy;
        this.confusion = confusion;
        this.topK = Map.copyOf(topK);
        this.classNames = List.copyOf(classNames);
    }

    public long rows() {
        return rows;
    }

    public double loss() {
        return loss;
    }

    /** Fraction correct (NaN for regression). */
    public double accuracy() {
        return accuracy;
    }

    /** confusion[true][predicted]; null for regression losses. */
    public int[][] confusionMatrix() {
        if (confusion == null) {
            return null;
        }
        int[][] c = new int[confusion.length][];
        for (int i = 0; i < c.length; i++) {
            c[i] = confusion[i].clone();
        }
        return c;
    }

    /** Top-k accuracy for each k asked for at evaluation (k = 1 is plain accuracy). */
    public double topKAccuracy(int k) {
        Double v = topK.get(k);
        if (v == null) {
            throw new IllegalArgumentException("top-" + k + " accuracy was not computed; pass Metrics.topK(" + k + ") to compile");
        }
        return v;
    }

    public int numClasses() {
        return confusion == null ? 0 : confusion.length;
    }

    /** TP / (TP + FP) for class c; 0 when nothing was predicted as c. */
    public double precision(int c) {
        long tp = confusion[c][c];
        long predicted = 0;
        for (int[] row : confusion) {
            predicted += row[c];
        }
        return predicted == 0 ? 0 : (double) tp / predicted;
    }

    /** TP / (TP + FN) for class c; 0 when c never occurs. */
    public double recall(int c) {
        long tp = confusion[c][c];
        long actual = 0;
        for (int v : confusion[c]) {
            actual += v;
        }
        return actual == 0 ? 0 : (double) tp / actual;
    }

    public double f1(int c) {
        double p = precision(c);
        double r = recall(c);
        return p + r == 0 ? 0 : 2 * p * r / (p + r);
    }

    /** Unweighted mean of per-class F1. */
    public double macroF1() {
        double s = 0;
        for (int c = 0; c < numClasses(); c++) {
            s += f1(c);
        }
        return numClasses() == 0 ? Double.NaN : s / numClasses();
    }

    private String className(int c) {
        return c < classNames.size() ? classNames.get(c) : Integer.toString(c);
    }

    /** JSON-friendly summary. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rows", rows);
        m.put("loss", loss);
        if (confusion != null) {
            m.put("accuracy", accuracy);
            topK.forEach((k, v) -> {
                if (k > 1) {
                    m.put("top_" + k + "_accuracy", v);
                }
            });
            List<Map<String, Object>> perClass = new ArrayList<>();
            for (int c = 0; c < numClasses(); c++) {
                Map<String, Object> pc = new LinkedHashMap<>();
                pc.put("class", className(c));
                pc.put("precision", precision(c));
                pc.put("recall", recall(c));
                pc.put("f1", f1(c));
                perClass.add(pc);
            }
            m.put("per_class", perClass);
            m.put("confusion_matrix", confusionMatrix());
        }
        return m;
    }

    /** A readable report: loss, accuracy, per-class table and the confusion matrix. */
    public String report() {
        StringBuilder b = new StringBuilder();
        b.append(String.format("rows %d - loss %.4f", rows, loss));
        if (confusion == null) {
            return b.append('\n').toString();
        }
        b.append(String.format(" - accuracy %.4f", accuracy));
        topK.forEach((k, v) -> {
            if (k > 1) {
                b.append(String.format(" - top-%d accuracy %.4f", k, v));
            }
        });
        b.append(String.format(" - macro F1 %.4f%n", macroF1()));
        int w = 5;
        for (int c = 0; c < numClasses(); c++) {
            w = Math.max(w, className(c).length());
        }
        b.append(String.format("%-" + w + "s  precision  recall  f1%n", "class"));
        for (int c = 0; c < numClasses(); c++) {
            b.append(String.format("%-" + w + "s  %9.4f  %6.4f  %6.4f%n", className(c), precision(c), recall(c), f1(c)));
        }
        b.append("confusion matrix (rows: true class, columns: predicted)\n");
        for (int[] row : confusion) {
            for (int v : row) {
                b.append(String.format("%6d", v));
            }
            b.append('\n');
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return confusion == null ? String.format("Evaluation[loss=%.4f]", loss)
                : String.format("Evaluation[loss=%.4f, accuracy=%.4f]", loss, accuracy);
    }
}
