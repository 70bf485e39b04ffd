package io.dense4j.layers;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The resolved shape of a stack of layers as the kernels see it: the widths, each Dense layer's activation and
 * kernel initializer, and the dropout rate applied to each Dense layer's output (a Dropout layer is fused into the
 * Dense layer before it). Immutable.
 *
 * <p>It also fixes the parameter layout every backend and the model file share: ONE contiguous buffer
 * {@code W0, b0, W1, b1, ...}, kernel {@code l} row-major {@code [inputs, units]} at {@link #kernelOffset(int)},
 * bias {@code l} at {@link #biasOffset(int)}.
 */
public final class Architecture {
    /** The most parameters a model may have: they are one native buffer and, copied out, one Java array. */
    public static final long MAX_PARAMETERS = Integer.MAX_VALUE - 8;
    /** More layers than any Dense network needs: a config with more is a mistake or hostile. */
    public static final int MAX_LAYERS = 1024;

    private final int[] sizes;
    private final Activation[] activations;
    private final float[] dropout;
    private final Initializer[] initializers;

    private Architecture(int[] sizes, Activation[] activations, float[] dropout, Initializer[] initializers) {
        this.sizes = sizes;
        this.activations = activations;
        this.dropout = dropout;
        this.initializers = initializers;
    }

    /**
     * Resolves {@code layers}: infers the input width of each Dense layer after the first, fuses dropout.
     *
     * @throws IllegalArgumentException naming the layer: the first Dense layer has no input width, widths do not
     *     match, Dropout first or last, softmax before the last layer, no Dense layer; more than
     *     {@link #MAX_PARAMETERS} parameters or {@link #MAX_LAYERS} layers
     */
    public static Architecture of(List<Layer> layers) {
        if (layers.size() > MAX_LAYERS) {
            throw new IllegalArgumentException("the config declares " + layers.size() + " layers; at most " + MAX_LAYERS
                    + " are accepted");
        }
        List<Dense> dense = new ArrayList<>();
        List<Float> drop = new ArrayList<>();
        int width = -1;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l instanceof Dense d) {
                int in = d.inputs() > 0 ? d.inputs() : width;
                if (in <= 0) {
                    throw new IllegalArgumentException("layer " + i + " (Dense " + d.units()
                            + "): the first Dense layer needs its input width, e.g. Dense.of(784, 128, Activation.RELU)");
                }
                if (width > 0 && in != width) {
                    throw new IllegalArgumentException("layer " + i + " (Dense) expects " + in
                            + " inputs but the previous layer has " + width + " units");
                }
                dense.add(d.inputs() > 0 ? d : new Dense(in, d.units(), d.activation(), d.kernelInitializer()));
                drop.add(0f);
                width = d.units();
            } else if (l instanceof Dropout d) {
                if (dense.isEmpty()) {
                    throw new IllegalArgumentException("layer " + i + ": Dropout must follow a Dense layer");
                }
                int last = drop.size() - 1;
                // two dropouts in a row compose: keep probability multiplies
                drop.set(last, (float) (1 - (1 - drop.get(last)) * (1 - d.rate())));
            }
        }
        if (dense.isEmpty()) {
            throw new IllegalArgumentException("a Sequential model needs at least one Dense layer");
        }
        if (drop.get(drop.size() - 1) > 0) {
            throw new IllegalArgumentException("Dropout after the last Dense layer is not supported: it would drop "
                    + "the model's outputs (logits or probabilities)");
        }
        int n = dense.size();
        int[] sizes = new int[n + 1];
        Activation[] acts = new Activation[n];
        Initializer[] inits = new Initializer[n];
        float[] dr = new float[n];
        sizes[0] = dense.get(0).inputs();
        for (int i = 0; i < n; i++) {
            sizes[i + 1] = dense.get(i).units();
            acts[i] = dense.get(i).activation();
            inits[i] = dense.get(i).kernelInitializer();
            dr[i] = drop.get(i);
            if (acts[i] == Activation.SOFTMAX && i != n - 1) {
                throw new IllegalArgumentException("softmax is only supported on the last layer (layer " + i + " has it)");
            }
        }
        long total = 0;
        for (int i = 0; i < n; i++) {
            total = Math.addExact(total, Math.addExact(Math.multiplyExact((long) sizes[i], sizes[i + 1]), sizes[i + 1]));
        }
        if (total > MAX_PARAMETERS) {
            // checked before anything is allocated: parameters are one buffer and travel as one Java array
            throw new IllegalArgumentException("the model has " + total + " parameters; Dense4J holds at most "
                    + MAX_PARAMETERS);
        }
        return new Architecture(sizes, acts, dr, inits);
    }

    /** Number of Dense layers. */
    public int layers() {
        return activations.length;
    }

    /** Widths: inputs, then each Dense layer's units (a copy). */
    public int[] sizes() {
        return sizes.clone();
    }

    /** Width {@code i}: 0 is the input, i the units of Dense layer i - 1. */
    public int size(int i) {
        return sizes[i];
    }

    public int inputs() {
        return sizes[0];
    }

    public int outputs() {
        return sizes[sizes.length - 1];
    }

    /** Dense layer l's activation. */
    public Activation activation(int l) {
        return activations[l];
    }

    /** Dense layer l's kernel initializer. */
    public Initializer initializer(int l) {
        return initializers[l];
    }

    /** Dropout rate applied to Dense layer l's output during training (0 for none). */
    public float dropout(int l) {
        return dropout[l];
    }

    /** Every Dense layer's dropout rate (a copy). */
    public float[] dropout() {
        return dropout.clone();
    }

    /** Every Dense layer's activation (a copy). */
    public Activation[] activations() {
        return activations.clone();
    }

    /** Every Dense layer's kernel initializer (a copy). */
    public Initializer[] initializers() {
        return initializers.clone();
    }

    /** The output activation. */
    public Activation outputActivation() {
        return activations[activations.length - 1];
    }

    /** Offset of layer l's kernel in the contiguous parameter buffer (W0, b0, W1, b1, ...). */
    public long kernelOffset(int l) {
        long off = 0;
        for (int i = 0; i < l; i++) {
            off += (long) sizes[i] * sizes[i + 1] + sizes[i + 1];
        }
        return off;
    }

    public long biasOffset(int l) {
        return kernelOffset(l) + (long) sizes[l] * sizes[l + 1];
    }

    /** Elements of layer l's kernel. */
    public long kernelSize(int l) {
        return (long) sizes[l] * sizes[l + 1];
    }

    public long parameterCount() {
        return kernelOffset(layers());
    }

    public int maxWidth() {
        int m = 0;
        for (int s : sizes) {
            m = Math.max(m, s);
        }
        return m;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Architecture a && Arrays.equals(sizes, a.sizes) && Arrays.equals(activations, a.activations)
                && Arrays.equals(dropout, a.dropout) && Arrays.equals(initializers, a.initializers);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(sizes) * 31 + Arrays.hashCode(activations);
    }

    @Override
    public String toString() {
        return "Architecture" + Arrays.toString(sizes) + " " + Arrays.toString(activations);
    }
}
