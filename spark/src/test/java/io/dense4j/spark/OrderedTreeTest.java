package io.dense4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import scala.Tuple2;

/**
 * The ordered tree's sum does not depend on the order leaves arrive in, nor on how partial nodes are merged (the
 * freedom Spark's treeAggregate has), while a plain sum in arrival order does.
 */
class OrderedTreeTest {
    /** Parameters of 1,000 floats from 16 workers with different row counts (Spark forms 4 groups of 4). */
    static final int PARTS = 16;
    static final int N = 1000;

    static Results.Worker leaf(Random r, int rows) {
        float[] p = new float[N];
        float[] m = new float[N];
        for (int i = 0; i < N; i++) {
            p[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
            m[i] = (float) r.nextGaussian();
        }
        return new Results.Worker(rows, 3, p, new float[][] {m, null, null}, rows * 0.5, rows * 0.25, rows, null,
                false);
    }

    @Test
    void theSumIsTheSameForEveryArrivalOrderAndMergeTree() {
        assertEquals(4, OrderedTree.groups(PARTS));
        assertEquals(1, OrderedTree.groups(2));
        assertEquals(1, OrderedTree.groups(4));
        Random r = new Random(1);
        List<Results.Worker> leaves = new ArrayList<>();
        long total = 0;
        for (int p = 0; p < PARTS; p++) {
            int rows = 30 + r.nextInt(100);
            leaves.add(leaf(r, rows));
            total += rows;
        }
        Results.RoundReduction red = new Results.RoundReduction(total);

        // the canonical order: groups p mod 4 in ascending partition order, then the groups in ascending order
        double[] want = new double[N];
        for (int g = 0; g < 4; g++) {
            double[] s = new double[N];
            for (int p = g; p < PARTS; p += 4) {
                for (int i = 0; i < N; i++) {
                    s[i] += (double) leaves.get(p).rows() / total * leaves.get(p).params()[i];
                }
            }
            for (int i = 0; i < N; i++) {
                want[i] += s[i];
            }
        }

        for (int trial = 0; trial < 40; trial++) {
            List<Integer> order = new ArrayList<>();
            for (int p = 0; p < PARTS; p++) {
                order.add(p);
            }
            Collections.shuffle(order, r);
            // random merge tree: leaves into single-leaf nodes, then random pairs merged until one node is left
            List<OrderedTree.Node<Results.Worker, Results.Average>> nodes = new ArrayList<>();
            for (int p : order) {
                nodes.add(new OrderedTree.Node<>(PARTS, 4, red).add(new Tuple2<>(p, leaves.get(p))));
            }
            while (nodes.size() > 1) {
                int a = r.nextInt(nodes.size());
                var left = nodes.remove(a);
                var right = nodes.remove(r.nextInt(nodes.size()));
                nodes.add(left.merge(right));
            }
            Results.Average got = nodes.get(0).result();
            assertArrayEquals(want, got.params, "trial " + trial);
            assertEquals(total, got.rows);
            assertEquals(PARTS, got.workers);
            assertEquals(3, got.steps);
            assertTrue(got.slots[1] == null && got.slots[2] == null && got.slots[0] != null);
        }

        // the arrival order matters for a plain sum: what the ordered tree is for
        double[] reversed = new double[N];
        for (int p = PARTS - 1; p >= 0; p--) {
            for (int i = 0; i < N; i++) {
                reversed[i] += (double) leaves.get(p).rows() / total * leaves.get(p).params()[i];
            }
        }
        assertFalse(java.util.Arrays.equals(want, reversed));
    }

    @Test
    void aLeafDeliveredTwiceOrMissingIsAnError() {
        var red = new Results.RoundReduction(10);
        Random r = new Random(2);
        var node = new OrderedTree.Node<Results.Worker, Results.Average>(2, 1, red).add(new Tuple2<>(0, leaf(r, 5)));
        var twice = new OrderedTree.Node<Results.Worker, Results.Average>(2, 1, red).add(new Tuple2<>(0, leaf(r, 5)));
        assertThrows(IllegalStateException.class, () -> node.merge(twice));
        var alone = new OrderedTree.Node<Results.Worker, Results.Average>(2, 1, red).add(new Tuple2<>(1, leaf(r, 5)));
        var e = assertThrows(IllegalStateException.class, alone::result);
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
    }
}
