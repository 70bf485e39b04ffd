package io.dense4j.interop;

import io.dense4j.layers.Activation;
import io.dense4j.optim.Optimizer;
import io.dense4j.train.Loss;
import io.dense4j.train.Metric;
import java.util.List;

/**
 * A model as the converters see it, independent of how Dense4J builds one: the preprocessing, the layers with their
 * weights, and the training setup. {@link ModelAdapter} turns it into a {@link io.dense4j.Sequential} and back; the
 * Keras and ONNX code only ever sees this.
 *
 * @param inputs       input width (features per row)
 * @param preprocessing what is applied to each row before the first layer, or null
 * @param layers       Dense and Dropout layers in order
 * @param training     optimizer, loss and metrics, or null when the model is not compiled
 * @param classNames   output class names (may be empty)
 */
public record NetworkSpec(int inputs, Preprocessing preprocessing, List<LayerSpec> layers, Training training,
                          List<String> classNames) {
    public NetworkSpec {
        layers = List.copyOf(layers);
        classNames = List.copyOf(classNames);
    }

    /** A layer of the network. */
    public sealed interface LayerSpec permits DenseSpec, DropoutSpec {
    }

    /**
     * A fully connected layer {@code activation(x . kernel + bias)}.
     *
     * @param kernel row-major {@code [inputs, units]} (Keras's layout)
     */
    public record DenseSpec(int inputs, int units, Activation activation, float[] kernel, float[] bias) implements LayerSpec {
        public DenseSpec {
            if ((long) inputs * units != kernel.length || bias.length != units) {
                throw new IllegalArgumentException("Dense " + inputs + "x" + units + " needs a kernel of "
                        + (long) inputs * units + " and a bias of " + units + " values, got " + kernel.length + " and "
                        + bias.length);
            }
        }
    }

    /** Dropout of the previous layer's output while training; the identity at inference. */
    public record DropoutSpec(double rate) implements LayerSpec {
    }

    /** Per-feature preprocessing applied to every input row. */
    public sealed interface Preprocessing permits Scale, Affine {
    }

    /** {@code x * factor}. */
    public record Scale(float factor) implements Preprocessing {
    }

    /** {@code (x - shift[j]) / div[j]} per feature j. */
    public record Affine(float[] shift, float[] div) implements Preprocessing {
    }

    /** The compiled training setup. */
    public record Training(Optimizer optimizer, Loss loss, List<Metric> metrics) {
        public Training {
            metrics = List.copyOf(metrics);
        }
    }

    /** The Dense layers, in order. */
    public List<DenseSpec> denseLayers() {
        return layers.stream().filter(l -> l instanceof DenseSpec).map(l -> (DenseSpec) l).toList();
    }

    /** Output width. */
    public int outputs() {
        List<DenseSpec> d = denseLayers();
        return d.get(d.size() - 1).units();
    }
}
