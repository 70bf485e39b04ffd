package io.dense4j.bench;

import io.dense4j.Sequential;
import io.dense4j.data.Mnist;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Fit;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The fixed cost of one {@code fit} of the reference model on the Fashion-MNIST training set, float32 pixels against
 * byte pixels ({@code Mnist.Pixels.UINT8}): a fit of ONE step, alternating the two sets, 10 timed rounds after 2
 * warm-up rounds, medians. What it shows: the checks of the data before training (labels in range, and for float32
 * features a scan of every value for NaN and infinities, which byte pixels cannot hold) and the session's setup, i.e.
 * what a 5-epoch {@code ReferenceWorkload} time holds besides its steps.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.FitFixedCost [data-dir]}
 */
public final class FitFixedCost {
    private FitFixedCost() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "/usr/share/datasets/fashion-mnist");
        System.out.printf("load average %s%n", Suite.loadavg());
        try (Mnist.Data floats = Mnist.load(dir); Mnist.Data bytes = Mnist.load(dir, Mnist.Pixels.UINT8)) {
            List<Double> f = new ArrayList<>();
            List<Double> b = new ArrayList<>();
            for (int r = 0; r < 12; r++) {
                for (int v = 0; v < 2; v++) {
                    try (Sequential m = Sequential.of(Dense.of(784, 128, Activation.RELU),
                            Dense.of(128, 10, Activation.SOFTMAX))) {
                        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
                        long t0 = System.nanoTime();
                        m.fit(v == 0 ? floats.train() : bytes.train(),
                                Fit.epochs(1).stepsPerEpoch(1).batchSize(32).seed(42));
                        double ms = (System.nanoTime() - t0) / 1e6;
                        if (r >= 2) {
                            (v == 0 ? f : b).add(ms);
                        }
                    }
                }
            }
            Collections.sort(f);
            Collections.sort(b);
            System.out.printf("fit of one step on the %d-row training set: float32 pixels median %.1f ms (%.1f-%.1f), "
                            + "byte pixels median %.1f ms (%.1f-%.1f)%n", floats.train().size(), f.get(f.size() / 2),
                    f.get(0), f.get(f.size() - 1), b.get(b.size() / 2), b.get(0), b.get(b.size() - 1));
        }
    }
}
