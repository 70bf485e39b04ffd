package io.dense4j.spark;

import io.dense4j.optim.OptimizerState;
import java.io.Serializable;
import java.util.Arrays;

/**
 * What tasks send back to the driver, and how the driver's {@link OrderedTree} adds them up. Plain classes, not
 * records: Spark ships them with the serializer the application chose, and Kryo (Spark's) cannot build records.
 */
final class Results {
    private Results() {}

    /**
     * An optimizer's buffers as shipped: its {@link OptimizerState#SLOTS} slots of one float per parameter each,
     * a slot that is all zero (a buffer the optimizer does not use, e.g. AMSGrad's maximum under plain Adam) as null.
     */
    static float[][] split(float[] slots, int parameters) {
        float[][] s = new float[OptimizerState.SLOTS][];
        if (slots == null) {
            return s;
        }
        for (int k = 0; k < s.length; k++) {
            for (int i = k * parameters; i < (k + 1) * parameters; i++) {
                if (slots[i] != 0f) {
                    s[k] = Arrays.copyOfRange(slots, k * parameters, (k + 1) * parameters);
                    break;
                }
            }
        }
        return s;
    }

    /** The buffers {@link #split} shipped, whole again (null when every slot is zero). */
    static float[] join(float[][] slots, int parameters) {
        boolean any = false;
        float[] all = new float[slots.length * parameters];
        for (int k = 0; k < slots.length; k++) {
            if (slots[k] != null) {
                System.arraycopy(slots[k], 0, all, k * parameters, parameters);
                any = true;
            }
        }
        return any ? all : null;
    }

    static long bytes(float[] params, float[][] slots) {
        long b = params == null ? 0 : 4L * params.length;
        if (slots != null) {
            for (float[] s : slots) {
                b += s == null ? 0 : 4L * s.length;
            }
        }
        return b;
    }

    /** The parameters and optimizer state a round starts from (broadcast to every task). */
    static final class State implements Serializable {
        private static final long serialVersionUID = 1L;
        private final float[] params;
        private final float[][] slots;
        private final long step;

        State(float[] params, float[][] slots, long step) {
            this.params = params;
            this.slots = slots;
            this.step = step;
        }

        float[] params() {
            return params;
        }

        /** Bytes of numbers shipped (slots that are all zero are not shipped). */
        long payloadBytes() {
            return bytes(params, slots);
        }

        OptimizerState optimizer() {
            return new OptimizerState(step, join(slots, params.length));
        }
    }

    /** One worker's round: its rows and steps, its parameters and optimizer buffers after them, its loss stats. */
    static final class Worker implements Serializable {
        private static final long serialVersionUID = 1L;
        private final int rows;
        private final int steps;
        private final float[] params;
        private final float[][] slots;
        private final double lossSum;
        private final double correct;
        private final double statRows;
        private final String error;
        private final boolean nonFiniteLoss;

        Worker(int rows, int steps, float[] params, float[][] slots, double lossSum, double correct, double statRows,
               String error, boolean nonFiniteLoss) {
            this.rows = rows;
            this.steps = steps;
            this.params = params;
            this.slots = slots;
            this.lossSum = lossSum;
            this.correct = correct;
            this.statRows = statRows;
            this.error = error;
            this.nonFiniteLoss = nonFiniteLoss;
        }

        int rows() {
            return rows;
        }

        int steps() {
            return steps;
        }

        float[] params() {
            return params;
        }

        float[][] slots() {
            return slots;
        }

        double lossSum() {
            return lossSum;
        }

        double correct() {
            return correct;
        }

        double statRows() {
            return statRows;
        }

        String error() {
            return error;
        }

        boolean nonFiniteLoss() {
            return nonFiniteLoss;
        }

        static Worker idle() {
            return new Worker(0, 0, null, null, 0, 0, 0, null, false);
        }

        static Worker failed(String error, boolean nonFiniteLoss) {
            return new Worker(0, 0, null, null, 0, 0, 0, error, nonFiniteLoss);
        }

        long payloadBytes() {
            return bytes(params, slots);
        }
    }

    /** The weighted sum of the workers' parameters and buffers (weights: rows / the round's rows), in double. */
    static final class Average implements Serializable {
        private static final long serialVersionUID = 1L;
        double[] params;
        double[][] slots = new double[OptimizerState.SLOTS][];
        long rows;
        int steps;
        int workers;
        long payloadBytes;
        double lossSum;
        double correct;
        double statRows;
        String error;
        boolean nonFiniteLoss;
    }

    /**
     * The round's average: sum of (rows_p / total) x_p over the workers that trained, the order fixed by
     * {@link OrderedTree}; with one group (few workers) exactly {@code ModelState.weightedAverage}'s arithmetic.
     * A worker whose buffers are all zero sent none: they add nothing.
     */
    static final class RoundReduction implements OrderedTree.Reduction<Worker, Average> {
        private static final long serialVersionUID = 1L;
        private final long totalRows;

        RoundReduction(long totalRows) {
            this.totalRows = totalRows;
        }

        @Override
        public Average empty() {
            return new Average();
        }

        @Override
        public Average add(Average acc, Worker w) {
            if (acc.error == null && w.error() != null) {
                acc.error = w.error();
                acc.nonFiniteLoss = w.nonFiniteLoss();
            }
            acc.lossSum += w.lossSum();
            acc.correct += w.correct();
            acc.statRows += w.statRows();
            acc.steps = Math.max(acc.steps, w.steps());
            acc.payloadBytes += w.payloadBytes();
            if (w.rows() > 0 && w.params() != null) {
                double weight = (double) w.rows() / totalRows;
                acc.rows += w.rows();
                acc.workers++;
                acc.params = addScaled(acc.params, w.params(), weight);
                for (int k = 0; k < acc.slots.length; k++) {
                    if (w.slots()[k] != null) {
                        acc.slots[k] = addScaled(acc.slots[k], w.slots()[k], weight);
                    }
                }
            }
            return acc;
        }

        @Override
        public Average merge(Average acc, Average g) {
            if (acc.error == null && g.error != null) {
                acc.error = g.error;
                acc.nonFiniteLoss = g.nonFiniteLoss;
            }
            acc.lossSum += g.lossSum;
            acc.correct += g.correct;
            acc.statRows += g.statRows;
            acc.steps = Math.max(acc.steps, g.steps);
            acc.payloadBytes += g.payloadBytes;
            acc.rows += g.rows;
            acc.workers += g.workers;
            acc.params = add(acc.params, g.params);
            for (int k = 0; k < acc.slots.length; k++) {
                acc.slots[k] = add(acc.slots[k], g.slots[k]);
            }
            return acc;
        }

        private static double[] addScaled(double[] acc, float[] x, double w) {
            double[] a = acc == null ? new double[x.length] : acc;
            for (int i = 0; i < x.length; i++) {
                a[i] += w * x[i];
            }
            return a;
        }

        private static double[] add(double[] acc, double[] x) {
            if (x == null) {
                return acc;
            }
            double[] a = acc == null ? new double[x.length] : acc;
            for (int i = 0; i < x.length; i++) {
                a[i] += x[i];
            }
            return a;
        }
    }

    /** Loss stats summed over workers (validation rows), or the first worker's error. */
    static final class Stats implements Serializable {
        private static final long serialVersionUID = 1L;
        static final Stats ZERO = new Stats(0, 0, 0, null);
        private final double lossSum;
        private final double correct;
        private final double rows;
        private final String error;

        Stats(double lossSum, double correct, double rows, String error) {
            this.lossSum = lossSum;
            this.correct = correct;
            this.rows = rows;
            this.error = error;
        }

        double lossSum() {
            return lossSum;
        }

        double correct() {
            return correct;
        }

        double rows() {
            return rows;
        }

        String error() {
            return error;
        }

        Stats plus(Stats o) {
            return new Stats(lossSum + o.lossSum, correct + o.correct, rows + o.rows, error != null ? error : o.error);
        }
    }

    static final class StatsReduction implements OrderedTree.Reduction<Stats, Stats> {
        private static final long serialVersionUID = 1L;

        @Override
        public Stats empty() {
            return Stats.ZERO;
        }

        @Override
        public Stats add(Stats acc, Stats leaf) {
            return acc.plus(leaf);
        }

        @Override
        public Stats merge(Stats acc, Stats group) {
            return acc.plus(group);
        }
    }

    /** Per-feature sums over training rows: count, sum, min, max (first pass) and squared deviations (second). */
    static final class Columns implements Serializable {
        private static final long serialVersionUID = 1L;
        long count;
        double[] sum;
        double[] min;
        double[] max;
        double[] squares;

        Columns plus(Columns o) {
            if (o.count == 0) {
                return this;
            }
            if (count == 0) {
                count = o.count;
                sum = o.sum == null ? null : o.sum.clone();
                min = o.min == null ? null : o.min.clone();
                max = o.max == null ? null : o.max.clone();
                squares = o.squares == null ? null : o.squares.clone();
                return this;
            }
            count += o.count;
            for (int j = 0; sum != null && j < sum.length; j++) {
                sum[j] += o.sum[j];
                min[j] = Math.min(min[j], o.min[j]);
                max[j] = Math.max(max[j], o.max[j]);
            }
            for (int j = 0; squares != null && j < squares.length; j++) {
                squares[j] += o.squares[j];
            }
            return this;
        }
    }

    static final class ColumnsReduction implements OrderedTree.Reduction<Columns, Columns> {
        private static final long serialVersionUID = 1L;

        @Override
        public Columns empty() {
            return new Columns();
        }

        @Override
        public Columns add(Columns acc, Columns leaf) {
            return acc.plus(leaf);
        }

        @Override
        public Columns merge(Columns acc, Columns group) {
            return acc.plus(group);
        }
    }
}
