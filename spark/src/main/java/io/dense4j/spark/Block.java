package io.dense4j.spark;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Rows of one input partition bound for one worker, decoded and checked where they were read: consecutive input
 * rows in input order, packed in primitive arrays so that the shuffle to the workers moves a few large arrays
 * rather than one object per row. A row that cannot be trained on is not kept; the block remembers the first one
 * (its input index and why).
 */
final class Block implements Serializable {
    private static final long serialVersionUID = 1L;

    final int width;
    final int targetWidth;
    int rows;
    long[] index;
    float[] features;
    int[] labels;
    float[] targets;
    long badRow = -1;
    String error;

    Block(Supervision sup) {
        this.width = sup.inputs;
        this.targetWidth = sup.targetWidth();
        this.index = new long[16];
        this.features = new float[16 * width];
        this.labels = sup.sparse() ? new int[16] : null;
        this.targets = sup.sparse() ? null : new float[16 * targetWidth];
    }

    /** Adds a checked row (features of the model's width; a label, or targets of the model's outputs). */
    void add(long i, float[] x, int label, float[] t) {
        if (rows == index.length) {
            int cap = rows * 2;
            index = Arrays.copyOf(index, cap);
            features = Arrays.copyOf(features, cap * width);
            if (labels != null) {
                labels = Arrays.copyOf(labels, cap);
            } else {
                targets = Arrays.copyOf(targets, cap * targetWidth);
            }
        }
        index[rows] = i;
        System.arraycopy(x, 0, features, rows * width, width);
        if (labels != null) {
            labels[rows] = label;
        } else {
            System.arraycopy(t, 0, targets, rows * targetWidth, targetWidth);
        }
        rows++;
    }

    /** Remembers a bad row (the first, by input index, is what the fit reports). */
    void bad(long i, String why) {
        if (error == null || i < badRow) {
            badRow = i;
            error = why;
        }
    }

    /** Trims the arrays to the rows held (before shipping). */
    Block trim() {
        index = Arrays.copyOf(index, rows);
        features = Arrays.copyOf(features, rows * width);
        if (labels != null) {
            labels = Arrays.copyOf(labels, rows);
        } else {
            targets = Arrays.copyOf(targets, rows * targetWidth);
        }
        return this;
    }
}
