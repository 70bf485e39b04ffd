package io.dense4j.spark;

import io.dense4j.train.Loss;
import java.io.Serializable;

/**
 * What the model needs of each row, and the checks every row passes before it is trained on: the feature width,
 * finite features, and a label or targets the loss can use. Rows are checked one by one where they are decoded (on
 * the executors, in the pass that builds the shards), and the first bad row's message names its input row, its
 * column and what is wrong.
 */
final class Supervision implements Serializable {
    private static final long serialVersionUID = 1L;

    /** How a row's supervision is stored. */
    enum Kind {
        /** an integer class label (sparse categorical cross-entropy) */
        CLASS_LABEL,
        /** an integer class label, given to the model one-hot (categorical cross-entropy) */
        ONE_HOT,
        /** one number, the model's single target (binary cross-entropy or mean squared error, one output) */
        SCALAR,
        /** a vector of targets, one per output */
        VECTOR
    }

    final int inputs;
    final int outputs;
    final Kind kind;
    final String featuresName;
    final String labelName;

    Supervision(int inputs, int outputs, Kind kind, String featuresName, String labelName) {
        this.inputs = inputs;
        this.outputs = outputs;
        this.kind = kind;
        this.featuresName = featuresName;
        this.labelName = labelName;
    }

    /**
     * The supervision a loss needs from a label column that holds one number per row ({@code vectorColumn}
     * false) or a vector per row.
     *
     * @throws IllegalArgumentException the column cannot supervise this loss (before anything is shipped)
     */
    static Supervision forLoss(Loss loss, int inputs, int outputs, boolean vectorColumn, String featuresName,
                               String labelName) {
        Kind kind;
        if (loss == Loss.SPARSE_CATEGORICAL_CROSSENTROPY) {
            if (vectorColumn) {
                throw new IllegalArgumentException(loss.configName() + " needs one integer class label per row, but "
                        + "column '" + labelName + "' holds vectors (use categorical_crossentropy for one-hot targets)");
            }
            kind = Kind.CLASS_LABEL;
        } else if (vectorColumn) {
            kind = Kind.VECTOR;
        } else if (loss == Loss.CATEGORICAL_CROSSENTROPY) {
            kind = Kind.ONE_HOT;
        } else if (outputs == 1) {
            kind = Kind.SCALAR;
        } else {
            throw new IllegalArgumentException(loss.configName() + " with " + outputs + " outputs needs " + outputs
                    + " targets per row, but column '" + labelName + "' holds one number per row");
        }
        return new Supervision(inputs, outputs, kind, featuresName, labelName);
    }

    /** Whether rows carry int labels (else float targets of {@link #targetWidth()}). */
    boolean sparse() {
        return kind == Kind.CLASS_LABEL;
    }

    int targetWidth() {
        return sparse() ? 0 : outputs;
    }

    /** A problem with a row's features, or null. */
    String checkFeatures(float[] x) {
        if (x == null) {
            return "column '" + featuresName + "' is null";
        }
        if (x.length != inputs) {
            return "column '" + featuresName + "' has " + x.length + " values, the model takes " + inputs;
        }
        for (int j = 0; j < x.length; j++) {
            if (!Float.isFinite(x[j])) {
                return "column '" + featuresName + "' value " + j + " is " + x[j] + " (inputs must be finite)";
            }
        }
        return null;
    }

    /** A class index from a label value, or throws {@link BadRow} saying why it is none. */
    int classOf(double label) {
        if (!Double.isFinite(label) || label != Math.rint(label)) {
            throw new BadRow("column '" + labelName + "' is " + label + ", not a class index");
        }
        if (label < 0 || label >= outputs) {
            throw new BadRow("column '" + labelName + "' is class " + (long) label + ", outside [0, " + outputs
                    + ") for a model with " + outputs + " outputs");
        }
        return (int) label;
    }

    /** Targets from a scalar label value (ONE_HOT or SCALAR), or throws {@link BadRow}. */
    float[] targetsOf(double label) {
        float[] t = new float[outputs];
        if (kind == Kind.ONE_HOT) {
            t[classOf(label)] = 1f;
            return t;
        }
        if (!Double.isFinite(label)) {
            throw new BadRow("column '" + labelName + "' is " + label + " (targets must be finite)");
        }
        t[0] = (float) label;
        return t;
    }

    /** Targets from a vector label (VECTOR), or throws {@link BadRow}. */
    float[] targetsOf(float[] label) {
        if (label == null) {
            throw new BadRow("column '" + labelName + "' is null");
        }
        if (label.length != outputs) {
            throw new BadRow("column '" + labelName + "' has " + label.length + " targets, the model has " + outputs
                    + " outputs");
        }
        for (int j = 0; j < label.length; j++) {
            if (!Float.isFinite(label[j])) {
                throw new BadRow("column '" + labelName + "' value " + j + " is " + label[j]
                        + " (targets must be finite)");
            }
        }
        return label;
    }

    /** Checks input row i (one number of supervision) and adds it to {@code block}, or records why it is bad. */
    void add(Block block, long i, float[] x, double label) {
        try {
            String bad = checkFeatures(x);
            if (bad != null) {
                block.bad(i, bad);
            } else if (sparse()) {
                block.add(i, x, classOf(label), null);
            } else {
                block.add(i, x, -1, targetsOf(label));
            }
        } catch (BadRow e) {
            block.bad(i, e.getMessage());
        }
    }

    /** Checks input row i (a vector of targets) and adds it to {@code block}, or records why it is bad. */
    void add(Block block, long i, float[] x, float[] targets) {
        try {
            String bad = checkFeatures(x);
            if (bad != null) {
                block.bad(i, bad);
            } else {
                block.add(i, x, -1, targetsOf(targets));
            }
        } catch (BadRow e) {
            block.bad(i, e.getMessage());
        }
    }

    /** A row that cannot be trained on; the message says why (the caller adds where). */
    static final class BadRow extends RuntimeException {
        BadRow(String message) {
            super(message, null, false, false);
        }
    }
}
