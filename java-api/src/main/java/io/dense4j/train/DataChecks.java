package io.dense4j.train;

import io.dense4j.data.Dataset;
import io.dense4j.tensor.Tensor;

/** The checks of data handed to fit and evaluate: widths, labels in range, finite values. */
final class DataChecks {
    private DataChecks() {}

    static void check(Dataset d, String what, int inputs, int outputs, Loss loss) {
        if (d.numFeatures() != inputs) {
            throw new IllegalArgumentException(what + " has " + d.numFeatures() + " features per row, the model takes "
                    + inputs);
        }
        if (d.size() == 0) {
            throw new IllegalArgumentException(what + " is empty");
        }
        if (loss != null && loss.sparseLabels()) {
            if (d.labels() == null) {
                throw new IllegalArgumentException(loss.configName() + " needs integer class labels, but " + what
                        + " has float targets (use categorical_crossentropy for one-hot targets)");
            }
            int[] lab = d.labels().toIntArray();
            for (int i = 0; i < lab.length; i++) {
                if (lab[i] < 0 || lab[i] >= outputs) {
                    throw new IllegalArgumentException(what + ": label " + lab[i] + " at row " + i + " is outside [0, "
                            + outputs + ") for a model with " + outputs + " outputs");
                }
            }
        } else if (loss != null) {
            if (d.targets() == null) {
                throw new IllegalArgumentException(loss.configName() + " needs float targets of width " + outputs
                        + ", but " + what + " has integer labels (use sparse_categorical_crossentropy)");
            }
            if (d.targets().dim(1) != outputs) {
                throw new IllegalArgumentException(what + " targets have width " + d.targets().dim(1)
                        + ", the model has " + outputs + " outputs");
            }
            checkFinite(d.targets(), what + " targets");
        }
        checkFinite(d.features(), what);
    }

    /** NaN or infinite inputs would silently poison the weights: refuse them with their position. */
    static void checkFinite(Tensor t, String what) {
        if (t.dtype() == Tensor.DType.UINT8) {
            return; // every byte stands for a finite float (the tensor's divisor is checked when it is created)
        }
        long size = t.size();
        long width = t.rank() == 2 ? t.dim(1) : 1;
        float[] buf = new float[1 << 16];
        for (long off = 0; off < size; off += buf.length) {
            int len = (int) Math.min(buf.length, size - off);
            t.read(off, buf, 0, len);
            for (int i = 0; i < len; i++) {
                if (!Float.isFinite(buf[i])) {
                    long idx = off + i;
                    throw new IllegalArgumentException(what + " contains " + buf[i] + " at row " + idx / width
                            + ", column " + idx % width);
                }
            }
        }
    }

    static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }
}
