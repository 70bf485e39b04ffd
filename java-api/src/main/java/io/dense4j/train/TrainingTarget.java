package io.dense4j.train;

import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import io.dense4j.optim.Optimizer;
import io.dense4j.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * What {@link Trainer} and {@link Evaluator} need of a model: its shape, compile settings and preprocessing, and
 * its backend's runs. {@code Sequential} provides one over whatever backend it holds; a distributed trainer can
 * provide its own. Everything here is the model's business; the loop, the data checks and the metrics are the
 * Trainer's and the Evaluator's.
 */
public interface TrainingTarget {
    /** The model callbacks receive. */
    TrainableModel model();

    int inputSize();

    int outputSize();

    /** The compiled loss, or null when the model was not compiled. */
    Loss loss();

    /** The compiled optimizer, or null when the model was not compiled. */
    Optimizer optimizer();

    List<Metric> metrics();

    /** The preprocessing applied to every input, or null. An unfitted one is fitted on the training rows by fit. */
    Normalizer preprocessing();

    List<String> classNames();

    /** Initializes the weights with {@code seed} unless they were set or trained before. */
    void initializeIfNeeded(long seed);

    /** Starts a training session on {@code train} (already normalized), rows [0, nTrain) being the training rows. */
    TrainingSession startTraining(Dataset train, int nTrain, int batch);

    /**
     * Forward pass over every row of {@code data} (already normalized): the activated outputs into
     * {@code outputs} ([rows, outputSize] or null), loss stats against its labels or targets under the compiled loss.
     */
    LossStats forward(Dataset data, Tensor outputs);

    /** Keeps what the Trainer reports about a finished fit (saved with the model as its "training" metadata). */
    void recordTraining(Map<String, Object> info);
}
