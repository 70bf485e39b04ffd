package io.dense4j.spark;

import io.dense4j.data.Dataset;
import io.dense4j.tensor.Tensor;
import java.io.Serializable;
import java.util.List;

/**
 * One worker's rows, packed and checked once, before training: row i of the input (in the input's order) belongs
 * to worker {@code i mod workers}, and each shard keeps its rows in input order, so the training rows (those
 * before the validation split) are a prefix. Spark caches the shards between rounds (memory, else disk) and
 * rebuilds a lost one from its input; the layout is a pure function of the input's order, so a rebuilt shard
 * equals the lost one.
 *
 * <p>Features are {@code rows x width} floats; the supervision is either int class labels or {@code rows x
 * targetWidth} float targets. {@link #error} names the first bad row of the shard (in input order), if any: a bad
 * row is reported, not trained on, so that the driver can fail the fit with its message before any round.
 */
final class Shard implements Serializable {
    private static final long serialVersionUID = 1L;

    final int partition;
    final int rows;
    final int width;
    final int targetWidth;
    final long[] index;
    final float[] features;
    final int[] labels;
    final float[] targets;
    /** Input index of the first bad row, or -1. */
    final long badRow;
    final String error;

    Shard(int partition, int width, int targetWidth, long[] index, float[] features, int[] labels, float[] targets,
          long badRow, String error) {
        this.partition = partition;
        this.rows = index.length;
        this.width = width;
        this.targetWidth = targetWidth;
        this.index = index;
        this.features = features;
        this.labels = labels;
        this.targets = targets;
        this.badRow = badRow;
        this.error = error;
    }

    /**
     * Packs a worker's blocks into its shard, rows in input order (blocks hold consecutive ascending rows, so
     * they are ordered by their first row), or reports its first bad row (the lowest input index).
     */
    static Shard pack(int partition, java.util.Iterator<Block> it, String what) {
        java.util.List<Block> blocks = new java.util.ArrayList<>();
        Block firstBad = null;
        long n = 0;
        while (it.hasNext()) {
            Block b = it.next();
            if (b.error != null && (firstBad == null || b.badRow < firstBad.badRow)) {
                firstBad = b;
            }
            if (b.rows > 0) {
                blocks.add(b);
                n += b.rows;
            }
        }
        if (firstBad != null) {
            return failed(partition, firstBad.badRow, what + " row " + firstBad.badRow + ": " + firstBad.error);
        }
        if (blocks.isEmpty()) {
            return new Shard(partition, 0, 0, new long[0], new float[0], new int[0], new float[0], -1, null);
        }
        blocks.sort(java.util.Comparator.comparingLong(b -> b.index[0]));
        Block first = blocks.get(0);
        int width = first.width;
        int tw = first.targetWidth;
        if (n * Math.max(width, tw) > Integer.MAX_VALUE - 8) {
            return failed(partition, first.index[0], what + ": worker " + partition + " would hold " + n
                    + " rows of " + width + " features, more than one array can hold: use more workers");
        }
        int rows = (int) n;
        long[] index = new long[rows];
        float[] x = new float[rows * width];
        int[] labels = first.labels != null ? new int[rows] : null;
        float[] targets = first.labels != null ? null : new float[rows * tw];
        int at = 0;
        for (Block b : blocks) {
            System.arraycopy(b.index, 0, index, at, b.rows);
            System.arraycopy(b.features, 0, x, at * width, b.rows * width);
            if (labels != null) {
                System.arraycopy(b.labels, 0, labels, at, b.rows);
            } else {
                System.arraycopy(b.targets, 0, targets, at * tw, b.rows * tw);
            }
            at += b.rows;
        }
        return new Shard(partition, width, tw, index, x, labels, targets, -1, null);
    }

    static Shard failed(int partition, long badRow, String error) {
        return new Shard(partition, 0, 0, new long[0], new float[0], null, null, badRow, error);
    }

    /**
     * The first of this shard's rows that is not where dealing {@code workers} ways puts it (its j-th row must be
     * input row {@code partition + j x workers}), as an input index, or -1 when every row is in its place.
     */
    long strayRow(int workers) {
        for (int j = 0; j < rows; j++) {
            if (index[j] != partition + (long) j * workers) {
                return index[j];
            }
        }
        return -1;
    }

    /**
     * The rows at {@code positions} (indices into this shard) as a new data set the caller closes, with
     * {@code classes} declared when the rows have labels.
     */
    Dataset gather(int[] positions, int from, int to, int classes) {
        int n = to - from;
        float[] x = new float[n * width];
        for (int i = 0; i < n; i++) {
            System.arraycopy(features, positions[from + i] * width, x, i * width, width);
        }
        Tensor xt = Tensor.of(x, n, width);
        Tensor yt = null;
        try {
            if (labels != null) {
                int[] y = new int[n];
                for (int i = 0; i < n; i++) {
                    y[i] = labels[positions[from + i]];
                }
                yt = Tensor.ofInts(y, n);
                return Dataset.of(xt, yt, classes, List.of());
            }
            float[] t = new float[n * targetWidth];
            for (int i = 0; i < n; i++) {
                System.arraycopy(targets, positions[from + i] * targetWidth, t, i * targetWidth, targetWidth);
            }
            yt = Tensor.of(t, n, targetWidth);
            return Dataset.ofTargets(xt, yt);
        } catch (RuntimeException e) {
            xt.close();
            if (yt != null) {
                yt.close();
            }
            throw e;
        }
    }

    /** What the driver learns of a shard when it is built: its size and its first bad row. */
    static final class Summary implements Serializable {
        private static final long serialVersionUID = 1L;
        private final int partition;
        private final int rows;
        private final long badRow;
        private final String error;
        private final long strayRow;

        Summary(int partition, int rows, long badRow, String error, long strayRow) {
            this.partition = partition;
            this.rows = rows;
            this.badRow = badRow;
            this.error = error;
            this.strayRow = strayRow;
        }

        int partition() {
            return partition;
        }

        int rows() {
            return rows;
        }

        long badRow() {
            return badRow;
        }

        String error() {
            return error;
        }

        /** The first row out of its dealt place ({@link #strayRow}), or -1. */
        long strayRow() {
            return strayRow;
        }
    }

    /** Size, first bad row and first stray row of this shard of one of {@code workers} workers. */
    Summary summary(int workers) {
        return new Summary(partition, rows, badRow, error, error != null ? -1 : strayRow(workers));
    }
}
