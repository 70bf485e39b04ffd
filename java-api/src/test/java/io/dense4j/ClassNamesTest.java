package io.dense4j;

import io.dense4j.data.Csv;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import io.dense4j.optim.Optimizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Text labels are numbered by their sorted names within each CSV file: a model trained on a file with every class
 * must read another file's labels by name, whichever classes that file has. (Before, a file of only 'virginica'
 * rows numbered them 0, the model's 'setosa', and an evaluation of a perfect model gave accuracy 0.)
 */
class ClassNamesTest {
    private static final List<String> NAMES = List.of("setosa", "versicolor", "virginica");

    @TempDir
    Path dir;

    /** Rows whose class is plain from the features: class c has feature c near 1, the others near 0. */
    private Path csv(String name, int rows, long seed, List<String> classes) throws IOException {
        Random rnd = new Random(seed);
        StringBuilder sb = new StringBuilder("a,b,c,species\n");
        for (int r = 0; r < rows; r++) {
            String cls = classes.get(r % classes.size());
            int c = NAMES.indexOf(cls) >= 0 ? NAMES.indexOf(cls) : 0;
            for (int j = 0; j < 3; j++) {
                sb.append(j == c ? 1 + 0.1 * rnd.nextGaussian() : 0.1 * rnd.nextGaussian()).append(',');
            }
            sb.append(cls).append('\n');
        }
        return Files.writeString(dir.resolve(name), sb, StandardCharsets.UTF_8);
    }

    private Sequential trained(boolean sparse) throws IOException {
        try (Dataset all = Csv.read(csv("all.csv", 300, 1, NAMES), Csv.options().labelColumn("species"))) {
            assertEquals(NAMES, all.classNames());
            Sequential m = Sequential.of(Dense.of(3, 3, Activation.SOFTMAX)).classNames(all.classNames());
            m.compile(Optimizers.adam(0.05), sparse ? Losses.SPARSE_CATEGORICAL_CROSSENTROPY
                    : Losses.CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            if (sparse) {
                m.fit(all, Fit.epochs(30).batchSize(16).seed(3));
            } else {
                try (Dataset hot = all.oneHot()) {
                    m.fit(hot, Fit.epochs(30).batchSize(16).seed(3));
                }
            }
            return m;
        }
    }

    @Test
    void aFileWithSomeOfTheClassesIsReadByTheModelsNames() throws IOException {
        for (boolean sparse : new boolean[] {true, false}) {
            try (Sequential m = trained(sparse);
                 Dataset all = Csv.read(dir.resolve("all.csv"), Csv.options().labelColumn("species"));
                 Dataset onlyLast = Csv.read(csv("virginica.csv", 40, 2, List.of("virginica")),
                         Csv.options().labelColumn("species"));
                 Dataset twoOfThree = Csv.read(csv("two.csv", 40, 3, List.of("virginica", "versicolor")),
                         Csv.options().labelColumn("species"))) {
                assertEquals(List.of("virginica"), onlyLast.classNames(), "numbered within its file");
                assertTrue(m.evaluate(sparse ? all : all.oneHot()).accuracy() > 0.95);
                for (Dataset d : List.of(onlyLast, twoOfThree)) {
                    Evaluation e;
                    if (sparse) {
                        e = m.evaluate(d);
                    } else {
                        try (Dataset hot = d.oneHot()) {
                            e = m.evaluate(hot);
                        }
                    }
                    assertTrue(e.accuracy() > 0.95, (sparse ? "labels " : "one-hot ") + d.classNames() + ": " + e.accuracy());
                }
            }
        }
    }

    @Test
    void aLabelTheModelDoesNotHaveIsRefusedByName() throws IOException {
        try (Sequential m = trained(true);
             Dataset other = Csv.read(csv("z.csv", 10, 4, List.of("setosa", "zsetosa")), Csv.options().labelColumn("species"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.evaluate(other));
            assertTrue(e.getMessage().contains("'zsetosa'") && e.getMessage().contains(NAMES.toString()), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.fit(other, Fit.epochs(1)));
        }
    }

    @Test
    void relabeledForMapsLabelsAndTargetsAndLeavesIndicesAlone() {
        try (Dataset d = Dataset.of(new float[][] {{1}, {2}, {3}}, new int[] {0, 1, 0}, 2, List.of("virginica", "setosa"));
             Dataset r = d.relabeledFor(NAMES);
             Dataset hot = d.oneHot();
             Dataset rh = hot.relabeledFor(NAMES);
             Dataset plain = Dataset.of(new float[][] {{1}, {2}}, new int[] {2, 1})) {
            assertArrayEquals(new int[] {2, 0, 2}, r.labels().toIntArray());
            assertEquals(NAMES, r.classNames());
            assertArrayEquals(new float[] {1, 2, 3}, r.features().toFloatArray());
            assertArrayEquals(new float[] {0, 0, 1, 1, 0, 0, 0, 0, 1}, rh.targets().toFloatArray());
            assertNull(plain.relabeledFor(NAMES), "integer labels are class indices already");
            assertNull(d.relabeledFor(List.of("virginica", "setosa")), "the same names in the same order");
            assertNull(d.relabeledFor(List.of()), "a model without names");
        }
    }
}
