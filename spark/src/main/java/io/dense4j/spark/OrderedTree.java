package io.dense4j.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.api.java.JavaRDD;
import scala.Tuple2;

/**
 * Spark's {@code treeAggregate} with a result that does not depend on the order in which partial results arrive.
 *
 * <p>Floating-point sums depend on their order, and Spark combines partial results in the order tasks finish
 * (on the driver, and within each key of the tree's intermediate level), so a plain {@code treeAggregate} of
 * float vectors can differ in the last bits from one run to the next, or after a task is retried. Here every
 * partition contributes one leaf, and leaves are combined in one fixed order whatever the arrival order: leaves
 * are grouped as Spark's tree groups them at depth 2 (leaf p in group {@code p mod k}, k as Spark chooses it; with
 * few partitions there is no intermediate level and one group), a group is summed in ascending partition order as
 * soon as a merge brings all its leaves together (where Spark reduces that key: on an executor when there is an
 * intermediate level, else on the driver), and the groups are summed in ascending order at the end. A node holds
 * leaves and group sums until they can be combined, so when Spark groups as expected the tree's traffic is what
 * {@code treeAggregate}'s would be: each task ships its leaf, each intermediate reducer its group's sum.
 */
final class OrderedTree {
    private OrderedTree() {}

    /** How leaves of type L add up into sums of type A. */
    interface Reduction<L, A> extends Serializable {
        A empty();

        /** acc + leaf; called for the leaves of a group in ascending partition order. May modify and return acc. */
        A add(A acc, L leaf);

        /** acc + group; called for the group sums in ascending group order. May modify and return acc. */
        A merge(A acc, A group);
    }

    /**
     * The ordered sum of {@code leaves}: one element (partition index, leaf) per partition of an RDD of
     * {@code parts} partitions. One Spark job.
     */
    static <L extends Serializable, A extends Serializable> A aggregate(JavaRDD<Tuple2<Integer, L>> leaves, int parts,
                                                                       Reduction<L, A> reduction) {
        Node<L, A> zero = new Node<>(parts, groups(parts), reduction);
        return leaves.treeAggregate(zero, Node::add, Node::merge, 2).result();
    }

    /** The number of groups Spark's treeAggregate forms at depth 2 (1: no intermediate level). */
    static int groups(int parts) {
        int scale = Math.max((int) Math.ceil(Math.pow(parts, 1.0 / 2)), 2);
        return parts > scale + Math.ceil((double) parts / scale) ? parts / scale : 1;
    }

    /** Leaves not yet combined and complete group sums. */
    static final class Node<L, A> implements Serializable {
        private static final long serialVersionUID = 1L;
        private final int parts;
        private final int groups;
        private final Reduction<L, A> reduction;
        private final TreeMap<Integer, L> leaves = new TreeMap<>();
        private final TreeMap<Integer, A> sums = new TreeMap<>();

        Node(int parts, int groups, Reduction<L, A> reduction) {
            this.parts = parts;
            this.groups = groups;
            this.reduction = reduction;
        }

        /**
         * Adds a partition's leaf (Spark's seqOp, in the partition's own task): kept as it is, so that the task
         * ships the leaf, not a group sum (which may be wider, e.g. doubles for floats).
         */
        Node<L, A> add(Tuple2<Integer, L> leaf) {
            put(leaf._1(), leaf._2());
            return this;
        }

        Node<L, A> merge(Node<L, A> other) {
            if (leaves.isEmpty() && sums.isEmpty()) {
                // merging into the zero value (Spark folds every partial result into one first, even in the
                // partition's own task): nothing to add yet, so nothing is summed and the leaves stay as narrow
                leaves.putAll(other.leaves);
                sums.putAll(other.sums);
                return this;
            }
            List<Integer> touched = new ArrayList<>();
            for (Map.Entry<Integer, L> e : other.leaves.entrySet()) {
                put(e.getKey(), e.getValue());
                touched.add(e.getKey() % groups);
            }
            for (Map.Entry<Integer, A> e : other.sums.entrySet()) {
                if (sums.put(e.getKey(), e.getValue()) != null) {
                    throw new IllegalStateException("group " + e.getKey() + " was delivered twice");
                }
            }
            for (int g : touched) {
                complete(g);
            }
            return this;
        }

        private void put(int p, L leaf) {
            if (p < 0 || p >= parts || leaves.put(p, leaf) != null || sums.containsKey(p % groups)) {
                throw new IllegalStateException("partition " + p + " of " + parts + " was delivered twice");
            }
        }

        /** Sums group g in ascending partition order once all its leaves are here. */
        private void complete(int g) {
            if (sums.containsKey(g)) {
                return;
            }
            for (int p = g; p < parts; p += groups) {
                if (!leaves.containsKey(p)) {
                    return;
                }
            }
            A acc = reduction.empty();
            for (int p = g; p < parts; p += groups) {
                acc = reduction.add(acc, leaves.remove(p));
            }
            sums.put(g, acc);
        }

        /** The groups' sums in ascending order. */
        A result() {
            for (int g = 0; g < groups; g++) {
                complete(g);
            }
            if (sums.size() != groups || !leaves.isEmpty()) {
                throw new IllegalStateException("the results of " + leaves.size() + " partitions and "
                        + (groups - sums.size()) + " groups of " + parts + " partitions are missing");
            }
            A acc = reduction.empty();
            for (A s : sums.values()) {
                acc = reduction.merge(acc, s);
            }
            return acc;
        }
    }
}
