package io.dense4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.backend.cpu.CpuThreads;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Fit;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Private teams of kernel threads (Dense4J.threadTeam): per caller, exact, restored on close. */
class ThreadTeamTest {
    static Dataset rows(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] x = new float[n][784];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(10);
            for (int j = 0; j < 784; j++) {
                x[i][j] = r.nextDouble() < 0.5 ? 0f : (float) r.nextDouble() + 0.1f * y[i];
            }
        }
        return Dataset.of(x, y, 10, java.util.List.of());
    }

    /** The reference network (with dropout, so its masks are part of what must not depend on the team). */
    static float[] train(Dataset data) {
        try (Sequential m = Sequential.of(Dense.of(784, 128, Activation.RELU), Dropout.of(0.2),
                Dense.of(128, 10, Activation.SOFTMAX))) {
            m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            m.fit(data, Fit.epochs(1).batchSize(32).seed(5));
            return m.parameters();
        }
    }

    @Test
    void twoCallersTrainAtOnceEachOnItsOwnTeamWithTheOneThreadResult() throws Exception {
        try (Dataset data = rows(1500, 3)) {
            float[] serial;
            try (ThreadTeam one = Dense4J.threadTeam(1)) {
                serial = train(data);
                assertEquals(0, one.stats().parallel() + one.stats().serial(), "a team of one runs every region itself");
            }
            AtomicReference<Throwable> failed = new AtomicReference<>();
            float[][] params = new float[2][];
            ThreadTeam.Stats[] stats = new ThreadTeam.Stats[2];
            int[] teams = new int[2];
            Thread[] th = new Thread[2];
            for (int i = 0; i < 2; i++) {
                int k = i;
                th[i] = new Thread(() -> {
                    try (ThreadTeam team = Dense4J.threadTeam(2)) {
                        teams[k] = Dense4J.threads();
                        params[k] = train(data);
                        stats[k] = team.stats();
                    } catch (Throwable t) {
                        failed.set(t);
                    }
                });
                th[i].start();
            }
            for (Thread t : th) {
                t.join();
            }
            if (failed.get() != null) {
                throw new AssertionError(failed.get());
            }
            for (int i = 0; i < 2; i++) {
                assertEquals(2, teams[i]);
                assertArrayEquals(serial, params[i], "a 2-thread team trains the 1-thread model, bit for bit");
                assertEquals(0, stats[i].busy(), "no region went serial for the other caller: " + stats[i]);
                if (Runtime.getRuntime().availableProcessors() >= 2) {
                    assertTrue(stats[i].parallel() + stats[i].serial() > 0, "regions were offered to the team: " + stats[i]);
                }
            }
        }
    }

    @Test
    void closingRestoresWhatTheThreadHadAndOnlyItsOwnerMayClose() throws Exception {
        int shared = Dense4J.threads();
        assertEquals(0, CpuThreads.callerThreads());
        try (ThreadTeam outer = Dense4J.threadTeam(3)) {
            assertEquals(3, Dense4J.threads());
            try (ThreadTeam inner = Dense4J.threadTeam(2)) {
                assertEquals(2, Dense4J.threads());
                assertEquals(2, inner.threads());
            }
            assertEquals(3, Dense4J.threads(), "the enclosing team is back");
            AtomicReference<Throwable> other = new AtomicReference<>();
            Thread t = new Thread(() -> {
                other.set(assertThrows(IllegalStateException.class, outer::close));
                assertEquals(shared, Dense4J.threads(), "another thread keeps the shared pool");
            });
            t.start();
            t.join();
            assertTrue(other.get() instanceof IllegalStateException, String.valueOf(other.get()));
            assertEquals(3, Dense4J.threads(), "a refused close changes nothing");
        }
        assertEquals(0, CpuThreads.callerThreads());
        assertEquals(shared, Dense4J.threads());
        assertThrows(IllegalArgumentException.class, () -> Dense4J.threadTeam(0));
    }
}
