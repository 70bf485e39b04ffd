package io.dense4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class NormalizerTest {

    /** Column 0 ~ N(5, 2), column 1 constant 3, column 2 ~ U(-10, 10). */
    static Dataset data(int n, long seed) {
        Random r = new Random(seed);
        float[][] x = new float[n][];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            x[i] = new float[] {(float) (5 + 2 * r.nextGaussian()), 3f, (float) (r.nextDouble() * 20 - 10)};
        }
        return Dataset.of(x, y);
    }

    static double[] columnMean(Tensor t) {
        int d = (int) t.dim(1);
        double[] m = new double[d];
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            m[i % d] += v[i];
        }
        for (int j = 0; j < d; j++) {
            m[j] /= t.dim(0);
        }
        return m;
    }

    static double[] columnStd(Tensor t) {
        int d = (int) t.dim(1);
        double[] mean = columnMean(t);
        double[] s = new double[d];
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            s[i % d] += (v[i] - mean[i % d]) * (v[i] - mean[i % d]);
        }
        for (int j = 0; j < d; j++) {
            s[j] = Math.sqrt(s[j] / t.dim(0));
        }
        return s;
    }

    @Test
    void standardizeFitsOnTrainOnly() {
        try (Dataset all = data(2000, 1); Dataset.Split s = all.split(0.5, 9)) {
            Dataset train = s.first();
            Dataset test = s.second();
            Normalizer n = Normalizer.standardize();
            assertFalse(n.isFitted());
            var e = assertThrows(IllegalStateException.class, () -> n.apply(train.features()));
            assertTrue(e.getMessage().contains("not fitted"), e.getMessage());
            n.fit(train);
            n.apply(train);
            n.apply(test);
            double[] trainMean = columnMean(train.features());
            double[] trainStd = columnStd(train.features());
            assertEquals(0, trainMean[0], 1e-5);
            assertEquals(1, trainStd[0], 1e-5);
            assertEquals(0, trainMean[2], 1e-5);
            assertEquals(1, trainStd[2], 1e-5);
            // the constant column: std taken as 1, so it becomes exactly 0 and not NaN
            assertEquals(0, trainMean[1]);
            assertEquals(0, trainStd[1]);
            // test data used the train statistics: close to, but not exactly, standard
            double[] testMean = columnMean(test.features());
            double[] testStd = columnStd(test.features());
            assertNotEquals(0, testMean[0], 1e-4);
            assertEquals(0, testMean[0], 0.2);
            assertNotEquals(1, testStd[0], 1e-4);
            assertEquals(1, testStd[0], 0.2);
        }
    }

    /** Statistics computed elsewhere (a distributed trainer's sums) fit the same normalizer as the rows do. */
    @Test
    void fitFromFeatureStats() {
        try (Dataset all = data(1000, 2)) {
            FeatureStats st = FeatureStats.of(all.features());
            assertEquals(1000, st.rows());
            assertEquals(3, st.features());
            assertArrayEquals(columnMean(all.features()), st.mean(), 1e-9);
            assertArrayEquals(columnStd(all.features()), st.std(), 1e-9);
            assertEquals(3.0, st.min()[1]);
            assertEquals(0.0, st.std()[1]);
            for (Normalizer fresh : List.of(Normalizer.standardize(), Normalizer.minMax(), Normalizer.scale(2f))) {
                Normalizer fromRows = Normalizer.fromConfig(fresh.config()).fit(all);
                Normalizer fromStats = Normalizer.fromConfig(fresh.config()).fit(st);
                assertEquals(fromRows.config(), fromStats.config());
            }
            var e = assertThrows(IllegalArgumentException.class,
                    () -> new FeatureStats(0, new double[1], new double[1], new double[1], new double[1]));
            assertTrue(e.getMessage().contains("0 rows"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> new FeatureStats(5, new double[] {1}, new double[] {0}, new double[1], new double[1]));
            assertTrue(e.getMessage().contains("feature 0 has invalid statistics"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> new FeatureStats(5, new double[2], new double[1], new double[1], new double[1]));
            assertTrue(e.getMessage().contains("different lengths"), e.getMessage());
            try (Tensor nan = Tensor.of(new float[] {1, Float.NaN}, 1, 2)) {
                e = assertThrows(IllegalArgumentException.class, () -> FeatureStats.of(nan));
                assertTrue(e.getMessage().contains("feature 1 of row 0 is NaN"), e.getMessage());
            }
        }
    }

    @Test
    void minMaxAndScale() {
        try (Dataset train = Dataset.of(new float[][] {{0, 10, 4}, {5, 20, 4}, {10, 15, 4}}, new int[] {0, 0, 0});
             Tensor test = Tensor.of(new float[][] {{20, 10, 5}})) {
            Normalizer n = Normalizer.minMax().fit(train);
            n.apply(train);
            assertArrayEquals(new float[] {0, 0, 0, 0.5f, 1, 0, 1, 0.5f, 0}, train.features().toFloatArray());
            n.apply(test);
            assertArrayEquals(new float[] {2, 0, 1}, test.toFloatArray(), "not clipped outside the train range");
            var e = assertThrows(IllegalArgumentException.class, () -> n.apply(Tensor.zeros(1, 2)));
            assertTrue(e.getMessage().contains("fitted on 3 features"), e.getMessage());
        }
        try (Tensor px = Tensor.of(new float[] {0, 51, 255, 127.5f}, 2, 2)) {
            Normalizer s = Normalizer.scale(1 / 255f);
            assertTrue(s.isFitted());
            s.apply(px);
            assertArrayEquals(new float[] {0, 51 * (1 / 255f), 1, 127.5f * (1 / 255f)}, px.toFloatArray());
        }
    }

    @Test
    void configRoundTripThroughJson() throws Exception {
        ObjectMapper json = new ObjectMapper();
        try (Dataset train = data(500, 2); Dataset other = data(50, 3); Dataset copy = other.take(50)) {
            for (Normalizer n : List.of(Normalizer.standardize().fit(train), Normalizer.minMax().fit(train),
                    Normalizer.scale(1 / 255f))) {
                String text = json.writeValueAsString(n.config());
                @SuppressWarnings("unchecked")
                Map<String, Object> back = json.readValue(text, Map.class);
                Normalizer m = Normalizer.fromConfig(back);
                assertEquals(n.config(), m.config(), text);
                try (Tensor a = other.features().copy(); Tensor b = copy.features().copy()) {
                    n.apply(a);
                    m.apply(b);
                    assertArrayEquals(a.toFloatArray(), b.toFloatArray(), "same transform after reload: " + text);
                }
            }
        }
        assertFalse(Normalizer.fromConfig(Normalizer.standardize().config()).isFitted());
        assertEquals("standardize", Normalizer.standardize().config().get("type"));
    }

    @Test
    void badConfigs() {
        var e = assertThrows(IllegalArgumentException.class, () -> Normalizer.fromConfig(Map.of("type", "zscore")));
        assertTrue(e.getMessage().contains("unknown normalizer type 'zscore'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Normalizer.fromConfig(Map.of("type", "standardize", "mean", List.of(1.0))));
        assertTrue(e.getMessage().contains("without"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Normalizer.fromConfig(Map.of("type", "standardize", "mean", List.of(1.0), "std", List.of(0.0))));
        assertTrue(e.getMessage().contains("must be > 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Normalizer.fromConfig(Map.of("type", "minmax", "min", List.of(1.0, 2.0), "max", List.of(3.0))));
        assertTrue(e.getMessage().contains("2 values"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Normalizer.fromConfig(Map.of("type", "scale")));
        assertThrows(IllegalArgumentException.class, () -> Normalizer.scale(Float.NaN));
        try (Dataset bad = Dataset.of(new float[][] {{1}, {Float.NaN}}, new int[] {0, 0})) {
            e = assertThrows(IllegalArgumentException.class, () -> Normalizer.standardize().fit(bad));
            assertTrue(e.getMessage().contains("row 1"), e.getMessage());
        }
    }
}
