package io.dense4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.backend.kernels.OpCodes;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Fit;
import io.dense4j.train.Loss;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Finite-difference gradient checks of whole small networks through the public API: one plain-SGD step
 * with lr = 1 moves every parameter by exactly minus its gradient; that change is compared with central
 * differences of the float64 reference loss.
 */
class GradientCheckTest {
    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (Activation hidden : new Activation[] {Activation.LINEAR, Activation.RELU, Activation.SIGMOID, Activation.TANH,
                Activation.GELU}) {
            a.add(Arguments.of(hidden, Activation.SOFTMAX, Loss.SPARSE_CATEGORICAL_CROSSENTROPY));
            a.add(Arguments.of(hidden, Activation.SOFTMAX, Loss.CATEGORICAL_CROSSENTROPY));
            a.add(Arguments.of(hidden, Activation.SIGMOID, Loss.BINARY_CROSSENTROPY));
            a.add(Arguments.of(hidden, Activation.TANH, Loss.MEAN_SQUARED_ERROR));
        }
        a.add(Arguments.of(Activation.RELU, Activation.LINEAR, Loss.SPARSE_CATEGORICAL_CROSSENTROPY));
        a.add(Arguments.of(Activation.TANH, Activation.LINEAR, Loss.BINARY_CROSSENTROPY));
        a.add(Arguments.of(Activation.GELU, Activation.LINEAR, Loss.MEAN_SQUARED_ERROR));
        a.add(Arguments.of(Activation.SIGMOID, Activation.SIGMOID, Loss.MEAN_SQUARED_ERROR));
        a.add(Arguments.of(Activation.TANH, Activation.SOFTMAX, Loss.MEAN_SQUARED_ERROR));
        a.add(Arguments.of(Activation.SIGMOID, Activation.RELU, Loss.MEAN_SQUARED_ERROR));
        return a.stream();
    }

    @ParameterizedTest(name = "hidden {0}, output {1}, loss {2}")
    @MethodSource("cases")
    void gradientOfWholeNetworkMatchesFiniteDifferences(Activation hidden, Activation output, Loss loss) {
        int[] sizes = {7, 5, 4, 3};
        int n = 9;
        Random r = new Random(hidden.ordinal() * 31 + output.ordinal() * 7 + loss.ordinal());
        float[] x = Reference.toFloat(Reference.random(r, n * sizes[0], 1.5));
        int[] labels = new int[n];
        float[] targets = new float[n * 3];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(3);
            for (int j = 0; j < 3; j++) {
                targets[i * 3 + j] = switch (loss) {
                    case CATEGORICAL_CROSSENTROPY -> j == labels[i] ? 1f : 0f;
                    case BINARY_CROSSENTROPY -> r.nextBoolean() ? 1f : 0f;
                    default -> (float) r.nextGaussian() * 0.5f;
                };
            }
        }
        try (Sequential model = Sequential.of(Dense.of(7, 5, hidden), Dense.of(5, 4, hidden), Dense.of(4, 3, output));
             Dataset data = loss.sparseLabels()
                     ? Dataset.of(Tensor.of(x, n, 7), Tensor.ofInts(labels, n))
                     : Dataset.ofTargets(Tensor.of(x, n, 7), Tensor.of(targets, n, 3))) {
            model.compile(Optimizers.sgd(1.0), loss);
            float[] p0 = Reference.toFloat(Reference.random(r, (int) model.parameterCount(), 0.8));
            model.setParameters(p0);
            model.fit(data, Fit.epochs(1).batchSize(n).shuffle(false));
            float[] p1 = model.parameters();
            float[] grad = new float[p0.length];
            for (int i = 0; i < grad.length; i++) {
                grad[i] = p0[i] - p1[i];
            }
            // reference: central differences of the float64 mean loss
            int[] acts = {OpCodes.activation(hidden), OpCodes.activation(hidden), OpCodes.activation(output)};
            int lossKind = OpCodes.loss(loss);
            if (output == Activation.LINEAR && loss != Loss.MEAN_SQUARED_ERROR) {
                acts[2] = loss == Loss.BINARY_CROSSENTROPY ? Reference.SIGMOID : Reference.SOFTMAX; // linear output = logits
            }
            double[] p = Reference.toDouble(p0);
            double[] xd = Reference.toDouble(x);
            double[] td = Reference.toDouble(targets);
            double[] ref = new double[p.length];
            double h = 1e-6;
            for (int i = 0; i < p.length; i++) {
                double keep = p[i];
                p[i] = keep + h;
                double up = Reference.networkLoss(p, sizes, acts, lossKind, xd, labels, td, n);
                p[i] = keep - h;
                double down = Reference.networkLoss(p, sizes, acts, lossKind, xd, labels, td, n);
                p[i] = keep;
                ref[i] = (up - down) / (2 * h);
            }
            double err = Reference.relError(grad, ref);
            assertTrue(err < 2e-4, "gradient relative error " + err + " for " + hidden + "/" + output + "/" + loss);
        }
    }
}
