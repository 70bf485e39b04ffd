package io.dense4j.federated;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** A small model and synthetic client data sets of awkward sizes, for fast protocol tests. */
final class TinyTask implements AutoCloseable {
    static final int FEATURES = 7;
    static final int CLASSES = 3;
    final Sequential model;
    final List<Dataset> partitions = new ArrayList<>();

    TinyTask(int... sizes) {
        model = Sequential.of(Dense.of(FEATURES, 5, Activation.TANH), Dense.of(5, CLASSES, Activation.SOFTMAX));
        model.compile(Optimizers.sgd(0.2), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        model.initialize(3);
        SplittableRandom r = new SplittableRandom(17);
        for (int n : sizes) {
            float[][] x = new float[n][FEATURES];
            int[] y = new int[n];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < FEATURES; j++) {
                    x[i][j] = (float) r.nextGaussian();
                }
                y[i] = (x[i][0] + 0.5 * x[i][1] > 0.3 ? 1 : 0) + (x[i][2] > 1 ? 1 : 0);
            }
            partitions.add(Dataset.of(x, y));
        }
    }

    FederatedSimulation simulation(FederatedConfig config, InMemoryTransport.Tap tap) {
        return new FederatedSimulation("tiny", config, model, partitions, 99, tap);
    }

    @Override
    public void close() {
        model.close();
        partitions.forEach(Dataset::close);
    }
}
