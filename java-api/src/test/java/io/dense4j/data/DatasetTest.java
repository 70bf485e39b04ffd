package io.dense4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DatasetTest {

    /** Row i has features [i, 10*i] and label i % 3, so every row can be identified from its features. */
    static Dataset numbered(int n) {
        float[][] x = new float[n][];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            x[i] = new float[] {i, 10 * i};
            y[i] = i % 3;
        }
        return Dataset.of(x, y);
    }

    /** The row ids of a {@link #numbered} data set or part, checking features and labels agree. */
    static int[] ids(Dataset d) {
        int[] ids = new int[d.size()];
        for (int r = 0; r < d.size(); r++) {
            float[] row = d.features().row(r);
            ids[r] = (int) row[0];
            assertEquals(10f * ids[r], row[1]);
            assertEquals(ids[r] % 3, d.labels().getInt(r), "label follows its row");
        }
        return ids;
    }

    @Test
    void factoriesAndAccessors() {
        try (Dataset d = numbered(5)) {
            assertEquals(5, d.size());
            assertEquals(2, d.numFeatures());
            assertEquals(3, d.numClasses());
            assertTrue(d.hasLabels());
            assertNull(d.targets());
            assertTrue(d.classNames().isEmpty());
            assertArrayEquals(new int[] {0, 1, 2, 3, 4}, ids(d));
        }
        try (Dataset d = Dataset.ofTargets(new float[][] {{1, 2}, {3, 4}}, new float[][] {{0, 1, 0}, {1, 0, 0}})) {
            assertFalse(d.hasLabels());
            assertNull(d.labels());
            assertEquals(3, d.numClasses());
            assertArrayEquals(new long[] {2, 3}, d.targets().shape());
        }
        try (Dataset d = Dataset.ofTargets(new float[][] {{1}, {2}, {3}}, new float[] {0.5f, 1.5f, 2.5f})) {
            assertArrayEquals(new long[] {3, 1}, d.targets().shape());
            assertArrayEquals(new float[] {0.5f, 1.5f, 2.5f}, d.targets().toFloatArray());
        }
        try (Dataset d = Dataset.of(new float[][] {{1}, {2}}, new int[] {0, 1}, 4, List.of("a", "b", "c", "d"))) {
            assertEquals(4, d.numClasses(), "declared count, not max label + 1");
            assertEquals(List.of("a", "b", "c", "d"), d.classNames());
        }
    }

    @Test
    void shapeChecksHaveClearMessages() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of(new float[][] {{1}, {2}, {3}}, new int[] {0, 1}));
        assertTrue(e.getMessage().contains("[3]") && e.getMessage().contains("[2]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Dataset.of(new float[][] {{1}, {2}}, new int[] {0, -1}));
        assertTrue(e.getMessage().contains("label -1 at row 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of(new float[][] {{1}, {2}}, new int[] {0, 5}, 3, List.of()));
        assertTrue(e.getMessage().contains("label 5") && e.getMessage().contains("[0, 3)"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of(new float[][] {{1}}, new int[] {0}, 2, List.of("only-one")));
        assertTrue(e.getMessage().contains("1 class names for 2 classes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.ofTargets(new float[][] {{1}, {2}}, new float[][] {{1}}));
        assertTrue(e.getMessage().contains("targets must have shape [2, k >= 1]"), e.getMessage());

        // wrong rank / dtype with tensors: the caller keeps ownership on failure
        try (Tensor x = Tensor.zeros(4); Tensor y = Tensor.zerosInt(4)) {
            e = assertThrows(IllegalArgumentException.class, () -> Dataset.of(x, y));
            assertTrue(e.getMessage().contains("[N, d]"), e.getMessage());
            assertFalse(x.isClosed());
        }
        try (Tensor x = Tensor.zeros(4, 2); Tensor y = Tensor.zeros(4)) {
            e = assertThrows(IllegalArgumentException.class, () -> Dataset.of(x, y));
            assertTrue(e.getMessage().contains("INT32"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Dataset.ofTargets(x, y));
            assertTrue(e.getMessage().contains("[4, k >= 1]"), e.getMessage());
        }
    }

    @Test
    void subsetCopiesRowsAndOwnsThem() {
        try (Dataset d = numbered(10)) {
            Dataset s = d.subset(new int[] {7, 2, 2, 9});
            assertArrayEquals(new int[] {7, 2, 2, 9}, ids(s));
            assertEquals(3, s.numClasses());
            s.close();
            assertTrue(s.features().isClosed());
            assertFalse(d.features().isClosed(), "closing a part leaves the parent alone");
            assertThrows(IndexOutOfBoundsException.class, () -> d.subset(new int[] {10}));
            try (Dataset t = d.take(3)) {
                assertArrayEquals(new int[] {0, 1, 2}, ids(t));
            }
            try (Dataset t = d.subset(new int[0])) {
                assertEquals(0, t.size());
                assertEquals(2, t.numFeatures());
            }
        }
        // a subset without the largest class keeps the class count
        try (Dataset d = numbered(9); Dataset s = d.subset(new int[] {0, 3})) {
            assertEquals(3, s.numClasses());
        }
    }

    @Test
    void splitIsAShuffledDeterministicPartition() {
        try (Dataset d = numbered(100);
             Dataset.Split a = d.split(0.8, 42);
             Dataset.Split b = d.split(0.8, 42);
             Dataset.Split c = d.split(0.8, 7)) {
            assertEquals(80, a.first().size());
            assertEquals(20, a.second().size());
            int[] first = ids(a.first());
            int[] second = ids(a.second());
            Set<Integer> all = new HashSet<>();
            Arrays.stream(first).forEach(all::add);
            Arrays.stream(second).forEach(all::add);
            assertEquals(100, all.size(), "every row in exactly one part");
            assertArrayEquals(first, ids(b.first()), "same seed, same split");
            assertArrayEquals(second, ids(b.second()));
            assertFalse(Arrays.equals(first, ids(c.first())), "another seed, another split");
            assertFalse(Arrays.equals(first, Arrays.copyOf(rangeArray(100), 80)), "shuffled");
        }
        try (Dataset d = numbered(10); Dataset.Split s = d.split(1.0, 1)) {
            assertEquals(10, s.first().size());
            assertEquals(0, s.second().size());
        }
        try (Dataset d = numbered(3)) {
            assertThrows(IllegalArgumentException.class, () -> d.split(1.5, 1));
            assertThrows(IllegalArgumentException.class, () -> d.split(Double.NaN, 1));
        }
    }

    @Test
    void splitTailTakesTheLastRowsLikeKeras() {
        try (Dataset d = numbered(10); Dataset.Split s = d.splitTail(0.2)) {
            assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, ids(s.first()));
            assertArrayEquals(new int[] {8, 9}, ids(s.second()));
        }
        // Keras: split_at = floor(N * (1 - f)) = floor(7 * 0.75) = 5
        try (Dataset d = numbered(7); Dataset.Split s = d.splitTail(0.25)) {
            assertEquals(5, s.first().size());
            assertArrayEquals(new int[] {5, 6}, ids(s.second()));
        }
    }

    @Test
    void kFoldPartitionsRows() {
        try (Dataset d = numbered(23)) {
            int[][] idx = d.kFoldIndices(5, 3);
            assertArrayEquals(idx[2], d.kFoldIndices(5, 3)[2], "deterministic by seed");
            assertFalse(Arrays.deepEquals(idx, d.kFoldIndices(5, 4)));
            List<Dataset.Fold> folds = d.kFold(5, 3);
            try {
                assertEquals(5, folds.size());
                int[] seen = new int[23];
                for (Dataset.Fold f : folds) {
                    assertTrue(f.test().size() == 4 || f.test().size() == 5, "balanced folds");
                    assertEquals(23, f.train().size() + f.test().size());
                    Set<Integer> train = new HashSet<>();
                    Arrays.stream(ids(f.train())).forEach(train::add);
                    for (int r : ids(f.test())) {
                        seen[r]++;
                        assertFalse(train.contains(r), "test row " + r + " also in train");
                    }
                }
                for (int r = 0; r < 23; r++) {
                    assertEquals(1, seen[r], "row " + r + " in exactly one test fold");
                }
            } finally {
                folds.forEach(Dataset.Fold::close);
            }
            assertThrows(IllegalArgumentException.class, () -> d.kFold(1, 0));
            assertThrows(IllegalArgumentException.class, () -> d.kFold(24, 0));
        }
    }

    @Test
    void oneHot() {
        try (Dataset d = numbered(4); Dataset o = d.oneHot()) {
            assertFalse(o.hasLabels());
            assertArrayEquals(new float[] {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0}, o.targets().toFloatArray());
            assertArrayEquals(d.features().toFloatArray(), o.features().toFloatArray());
        }
    }

    @Test
    void permutationIsStable() {
        // pinned: a change here would silently change every seeded split users rely on
        assertArrayEquals(Dataset.permutation(10, 42), Dataset.permutation(10, 42));
        int[] p = Dataset.permutation(1000, 1);
        int[] sorted = p.clone();
        Arrays.sort(sorted);
        assertArrayEquals(rangeArray(1000), sorted);
        assertNotEquals(0, Arrays.compare(p, rangeArray(1000)));
        List<Integer> l = new ArrayList<>();
        for (int v : Dataset.permutation(5, 0)) {
            l.add(v);
        }
        assertEquals(5, new HashSet<>(l).size());
    }

    static int[] rangeArray(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }
}
