package io.dense4j.interop.keras;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.interop.NetworkSpec;
import io.dense4j.interop.NetworkSpec.DenseSpec;
import io.dense4j.interop.NetworkSpec.DropoutSpec;
import io.dense4j.interop.NetworkSpec.LayerSpec;
import io.dense4j.interop.NetworkSpec.Preprocessing;
import io.dense4j.interop.keras.KerasFile.LayerRef;
import io.dense4j.interop.keras.KerasTopology.Chain;
import io.dense4j.interop.keras.KerasTopology.KLayer;
import io.dense4j.layers.Activation;
import io.jhdf.api.Dataset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Turns an opened Keras file into a {@link NetworkSpec}. Layers Dense4J represents: InputLayer, Flatten, Dense,
 * Dropout, Activation / ReLU / Softmax (folded into the Dense before them), Rescaling and Normalization (as
 * preprocessing, before the first Dense). Anything else fails with a message naming the first such layer and its
 * class; behaviour that changes only training (an input Dropout, regularizers) is reported as a note.
 */
final class KerasImporter {
    /** The spec plus what the import could not carry over exactly. */
    record Result(NetworkSpec spec, List<String> notes) {
    }

    private static final String SUPPORTED = "Dense4J imports InputLayer, Flatten, Dense, Dropout, Activation, ReLU, "
            + "Softmax, Rescaling and Normalization";

    private final KerasFile file;
    private final List<String> notes = new ArrayList<>();

    private KerasImporter(KerasFile file) {
        this.file = file;
    }

    static Result convert(KerasFile file) {
        return new KerasImporter(file).run();
    }

    private Result run() {
        Chain chain = KerasTopology.of(file.modelConfig);
        List<KLayer> layers = new ArrayList<>(chain.layers());
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("the model has no layers");
        }
        // ---- the input shape (without the batch dimension), from wherever this Keras version put it
        long[] shape = null;
        KLayer first = layers.get(0);
        if (first.className().equals("InputLayer")) {
            shape = inputShape(first.config(), first, true);
            layers.remove(0);
        } else {
            shape = inputShape(first.config(), first, false);
        }
        if (shape == null && chain.buildInputShape() != null && chain.buildInputShape().isArray()) {
            shape = dims(chain.buildInputShape(), first, true);
        }
        // ---- check every layer before reading any weight
        for (KLayer l : layers) {
            check(l);
        }
        List<LayerRef> refs = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            KLayer l = layers.get(i);
            refs.add(new LayerRef(i, l.name(), l.className(), hasWeights(l)));
        }
        Map<LayerRef, List<Dataset>> weights = file.weights.bind(refs);

        List<LayerSpec> out = new ArrayList<>();
        Preprocessing pre = null;
        // Nothing below is sized by the config alone: a Normalization's statistics and a channels_first Flatten's
        // order are built only once the Dense after them has its kernel, whose size the file's bytes vouch for
        KLayer normalization = null;
        KLayer rescaling = null;
        LayerRef normalizationRef = null;
        long[] normalizationShape = null;
        long[] channelsFirst = null; // the shape a channels_first Flatten flattened, until the Dense after it
        for (int i = 0; i < layers.size(); i++) {
            KLayer l = layers.get(i);
            LayerRef ref = refs.get(i);
            JsonNode c = l.config();
            switch (l.className()) {
                case "Flatten" -> {
                    if (shape != null && shape.length > 1) {
                        long flat = product(shape, l);
                        if ("channels_first".equals(c.path("data_format").asText(null)) && shape.length >= 2) {
                            channelsFirst = shape;
                        }
                        shape = new long[] {flat};
                    }
                }
                case "Dense" -> {
                    if (shape != null && shape.length != 1) {
                        throw new IllegalArgumentException(l.describe() + " receives inputs of shape "
                                + java.util.Arrays.toString(shape) + ": Keras applies Dense to the last axis; Dense4J "
                                + "needs the input flattened first (add a Flatten layer)");
                    }
                    DenseSpec d = dense(l, ref, weights.get(ref), shape == null ? -1 : shape[0], channelsFirst);
                    channelsFirst = null;
                    out.add(d);
                    shape = new long[] {d.units()};
                }
                case "Dropout" -> {
                    double rate = c.path("rate").asDouble(0);
                    if (!(rate >= 0 && rate < 1)) {
                        throw new IllegalArgumentException(l.describe() + " has rate " + c.path("rate"));
                    }
                    if (c.hasNonNull("noise_shape")) {
                        notes.add(l.describe() + ": noise_shape " + c.get("noise_shape") + " is ignored (Dense4J drops "
                                + "units independently)");
                    }
                    if (out.isEmpty()) {
                        notes.add(l.describe() + " drops inputs before the first Dense layer, which Dense4J cannot do: "
                                + "left out (it is the identity at inference)");
                    } else if (rate > 0) {
                        out.add(new DropoutSpec(rate));
                    }
                }
                case "Activation", "ReLU", "Softmax" -> {
                    Activation a = standaloneActivation(l);
                    if (out.isEmpty() || !(out.get(out.size() - 1) instanceof DenseSpec d)
                            || (d.activation() != Activation.LINEAR && a != Activation.LINEAR)) {
                        throw new IllegalArgumentException(l.describe() + " must directly follow a Dense layer with a "
                                + "linear activation: Dense4J applies activations inside Dense layers");
                    }
                    if (a != Activation.LINEAR) {
                        out.set(out.size() - 1, new DenseSpec(d.inputs(), d.units(), a, d.kernel(), d.bias()));
                    }
                }
                case "Rescaling", "Normalization" -> {
                    if (!out.isEmpty() || rescaling != null || normalization != null) {
                        throw new IllegalArgumentException(l.describe() + " is not the first transformation of the input:"
                                + " Dense4J supports one Rescaling or Normalization before the first Dense layer");
                    }
                    if (l.className().equals("Rescaling")) {
                        rescaling = l; // built once the first Dense layer gives the feature count
                    } else {
                        normalization = l;
                        normalizationRef = ref;
                        normalizationShape = shape;
                    }
                }
                default -> throw new IllegalStateException("unchecked layer " + l.describe());
            }
        }
        // a trailing Dropout would drop the outputs; Keras only applies it in training
        while (!out.isEmpty() && out.get(out.size() - 1) instanceof DropoutSpec) {
            out.remove(out.size() - 1);
            notes.add("a Dropout after the last Dense layer is left out (Dense4J never drops outputs; it is the "
                    + "identity at inference)");
        }
        List<DenseSpec> dense = out.stream().filter(l -> l instanceof DenseSpec).map(l -> (DenseSpec) l).toList();
        if (dense.isEmpty()) {
            throw new IllegalArgumentException("the model has no Dense layer");
        }
        for (int i = 0; i < dense.size() - 1; i++) {
            if (dense.get(i).activation() == Activation.SOFTMAX) {
                throw new IllegalArgumentException("Dense layer " + i + " has a softmax activation but is not the last "
                        + "layer: Dense4J supports softmax only on the output layer");
            }
        }
        if (rescaling != null) {
            pre = KerasPreprocessing.rescaling(rescaling, dense.get(0).inputs());
        }
        if (normalization != null) {
            KLayer l = normalization;
            if (normalizationShape != null && normalizationShape.length == 1
                    && normalizationShape[0] != dense.get(0).inputs()) {
                throw new IllegalArgumentException(l.describe() + " has " + normalizationShape[0] + " features, the "
                        + "first Dense layer takes " + dense.get(0).inputs());
            }
            pre = KerasPreprocessing.normalization(l, weights.get(normalizationRef), normalizationShape,
                    file.weights.fileBytes());
        }
        if (pre instanceof NetworkSpec.Affine a && a.shift().length != dense.get(0).inputs()) {
            throw new IllegalArgumentException("the Normalization has " + a.shift().length + " features, the first "
                    + "Dense layer takes " + dense.get(0).inputs());
        }
        DenseSpec last = dense.get(dense.size() - 1);
        NetworkSpec.Training training = KerasTraining.fromKeras(file.trainingConfig, last.activation(), last.units(), notes);
        List<String> classes = file.classNames.size() == last.units() ? file.classNames : List.of();
        return new Result(new NetworkSpec(dense.get(0).inputs(), pre, out, training, classes), List.copyOf(notes));
    }

    // ------------------------------------------------------------------------------------------------ layers

    private static boolean hasWeights(KLayer l) {
        return l.className().equals("Dense")
                || (l.className().equals("Normalization") && !l.config().hasNonNull("mean"));
    }

    /** Fails on what Dense4J cannot represent, before any weight is read. */
    private void check(KLayer l) {
        switch (l.className()) {
            case "Flatten", "Dense", "Dropout", "Activation", "ReLU", "Softmax", "Rescaling", "Normalization" -> {
            }
            case "InputLayer" -> throw new IllegalArgumentException(l.describe() + " is not the first layer");
            default -> throw new IllegalArgumentException(l.describe() + " is not supported: " + SUPPORTED
                    + " (a convolution, recurrent, normalization or custom layer cannot be represented)");
        }
        if (!KerasNames.isBuiltin(l.serialized())) {
            throw new IllegalArgumentException(l.describe() + " is a custom object (module "
                    + l.serialized().path("module").asText("?") + ", registered as "
                    + l.serialized().path("registered_name").asText("?") + "): " + SUPPORTED);
        }
        String dtype = dtypeName(l.config().get("dtype"));
        if (dtype != null && dtype.startsWith(QUANTIZED)) {
            throw new IllegalArgumentException(l.describe() + " is quantized (" + dtype.substring(QUANTIZED.length())
                    + "): Dense4J imports float layers; save the model before quantizing it");
        }
        if (dtype != null && !(dtype.equals("float32") || dtype.equals("float64") || dtype.equals("float16")
                || dtype.equals("bfloat16") || dtype.startsWith("mixed_"))) {
            throw new IllegalArgumentException(l.describe() + " has dtype policy '" + dtype + "' (quantized?): "
                    + "Dense4J imports float layers");
        }
        if (dtype != null && !dtype.equals("float32")) {
            notes.add(l.describe() + " computes in " + dtype + " in Keras; Dense4J computes in float32");
        }
        if (l.className().equals("Dense")) {
            JsonNode c = l.config();
            activation(c.get("activation"), l);
            if (c.path("units").asLong(0) < 1 || c.path("units").asLong() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(l.describe() + " has units " + c.get("units"));
            }
            for (String k : new String[] {"kernel_regularizer", "bias_regularizer", "activity_regularizer",
                    "kernel_constraint", "bias_constraint"}) {
                if (c.hasNonNull(k)) {
                    notes.add(l.describe() + ": " + k + " is a training-time term Dense4J does not have; ignored");
                }
            }
        }
    }

    private static final String QUANTIZED = "quantized ";

    /**
     * The dtype policy's name; {@code "quantized <mode>"} for Keras 3's quantized policies (QuantizedDTypePolicy,
     * QuantizedFloat8DTypePolicy, GPTQDTypePolicy...), whose config names a quantization {@code mode} (int8, float8,
     * int4, gptq/4/128...) where a float policy has only a name.
     */
    private static String dtypeName(JsonNode d) {
        if (d == null || d.isNull()) {
            return null;
        }
        if (d.isTextual()) {
            return d.asText();
        }
        String cls = d.path("class_name").asText("");
        JsonNode mode = d.path("config").path("mode");
        if (cls.contains("Quantized") || (mode.isTextual() && !mode.asText().isEmpty())) {
            return QUANTIZED + (mode.isTextual() ? mode.asText() : d.path("config").path("name").asText(cls));
        }
        return d.path("config").path("name").asText(null);
    }

    /** @param channelsFirst the shape a channels_first Flatten before this layer flattened, or null */
    private DenseSpec dense(KLayer l, LayerRef ref, List<Dataset> ds, long inputs, long[] channelsFirst) {
        JsonNode c = l.config();
        int units = c.path("units").asInt();
        Activation act = activation(c.get("activation"), l);
        boolean useBias = c.path("use_bias").asBoolean(true);
        int want = useBias ? 2 : 1;
        if (ds == null || ds.size() != want) {
            throw new IllegalArgumentException(l.describe() + " should have " + want + " saved weights (kernel"
                    + (useBias ? ", bias" : "") + "), " + file.weights.where(ref) + " has " + (ds == null ? 0 : ds.size()));
        }
        Dataset kernelSet = ds.get(0);
        Dataset biasSet = useBias ? ds.get(1) : null;
        if (useBias && ds.get(0).getName().startsWith("bias") && ds.get(1).getName().startsWith("kernel")) {
            kernelSet = ds.get(1); // name order, in case a writer listed them the other way round
            biasSet = ds.get(0);
        }
        long[] kshape = {inputs, units};
        float[] kernel = H5.floats(kernelSet, kshape, "the kernel of " + l.describe(), file.weights.fileBytes());
        int in = (int) kshape[0];
        float[] bias = useBias ? H5.floats(biasSet, new long[] {units}, "the bias of " + l.describe(),
                file.weights.fileBytes()) : new float[units];
        if (!useBias) {
            notes.add(l.describe() + " has no bias (use_bias=False): imported with a zero bias, which fit will train");
        }
        if (channelsFirst != null) { // (in is the Flatten's width: the kernel was read as [that width, units])
            float[] k = new float[kernel.length];
            for (int r = 0; r < in; r++) { // our row r (row-major input) is Keras's row kerasIndex(r)
                System.arraycopy(kernel, channelsFirstIndex(channelsFirst, r) * units, k, r * units, units);
            }
            kernel = k;
        }
        return new DenseSpec(in, units, act, kernel, bias);
    }

    static Activation activation(JsonNode a, KLayer l) {
        String name;
        if (a == null || a.isNull()) {
            name = "linear";
        } else if (a.isTextual()) {
            name = a.asText();
        } else if (a.isObject() && KerasNames.isBuiltin(a) && a.path("config").isTextual()) {
            name = a.get("config").asText(); // {"class_name": "function", "config": "relu", ...}
        } else {
            throw new IllegalArgumentException(l.describe() + " has a custom activation " + a
                    + ": Dense4J has linear, relu, sigmoid, tanh, gelu, softmax");
        }
        return switch (name) {
            case "linear", "relu", "sigmoid", "tanh", "softmax" -> Activation.fromName(name);
            case "gelu" -> Activation.GELU; // Keras's gelu defaults to the exact (erf) form, as Dense4J's
            default -> throw new IllegalArgumentException(l.describe() + " has activation '" + name
                    + "', which Dense4J does not have (it has linear, relu, sigmoid, tanh, gelu, softmax)");
        };
    }

    private static Activation standaloneActivation(KLayer l) {
        JsonNode c = l.config();
        return switch (l.className()) {
            case "Activation" -> activation(c.get("activation"), l);
            case "Softmax" -> {
                JsonNode axis = c.get("axis");
                if (axis != null && !(axis.asInt(-1) == -1 || (axis.isArray() && axis.size() == 1 && axis.get(0).asInt() == -1))) {
                    throw new IllegalArgumentException(l.describe() + " is over axis " + axis + "; Dense4J's softmax "
                            + "is over the units (axis -1)");
                }
                yield Activation.SOFTMAX;
            }
            default -> { // ReLU
                if (c.hasNonNull("max_value") || c.path("negative_slope").asDouble(0) != 0
                        || c.path("threshold").asDouble(0) != 0) {
                    throw new IllegalArgumentException(l.describe() + " has max_value/negative_slope/threshold "
                            + "settings; Dense4J's relu is max(x, 0)");
                }
                yield Activation.RELU;
            }
        };
    }

    // ------------------------------------------------------------------------------------------------ shapes

    /** The declared input shape without the batch dimension, or null when this layer does not declare one. */
    private static long[] inputShape(JsonNode c, KLayer l, boolean isInputLayer) {
        for (String key : new String[] {"batch_input_shape", "batch_shape"}) {
            if (c.has(key) && c.get(key).isArray()) {
                return dims(c.get(key), l, true);
            }
        }
        for (String key : new String[] {"input_shape", "shape"}) {
            if (c.has(key) && c.get(key).isArray()) {
                return dims(c.get(key), l, false);
            }
        }
        if (c.path("input_dim").canConvertToLong()) {
            return new long[] {c.get("input_dim").asLong()};
        }
        if (!isInputLayer && l.serialized().path("build_config").path("input_shape").isArray()) {
            return dims(l.serialized().path("build_config").get("input_shape"), l, true);
        }
        return null;
    }

    private static long[] dims(JsonNode arr, KLayer l, boolean hasBatch) {
        int from = hasBatch ? 1 : 0;
        if (arr.size() <= from) {
            throw new IllegalArgumentException(l.describe() + " declares input shape " + arr + " with no feature axis");
        }
        long[] d = new long[arr.size() - from];
        for (int i = from; i < arr.size(); i++) {
            JsonNode v = arr.get(i);
            if (!v.canConvertToLong() || v.asLong() < 1) {
                throw new IllegalArgumentException(l.describe() + " declares input shape " + arr + ": Dense4J needs "
                        + "every axis but the batch to have a fixed size");
            }
            d[i - from] = v.asLong();
        }
        return d;
    }

    private static long product(long[] shape, KLayer l) {
        long p = 1;
        for (long s : shape) {
            p = s > Integer.MAX_VALUE ? Long.MAX_VALUE : p * s; // p <= 2^31 here: no overflow
            if (p > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(l.describe() + " flattens " + java.util.Arrays.toString(shape)
                        + " to more than " + Integer.MAX_VALUE + " values");
            }
        }
        return p;
    }

    /**
     * Keras's Flatten with data_format="channels_first" moves axis 1 (channels) last before flattening. For our
     * row-major index r of the input of shape {@code shape}, the index Keras's first Dense sees.
     */
    static int channelsFirstIndex(long[] shape, int r) {
        int k = shape.length;
        long rest = r;
        long[] idx = new long[k];
        for (int a = k - 1; a >= 0; a--) {
            idx[a] = rest % shape[a];
            rest /= shape[a];
        }
        long kerasIndex = 0; // row-major over (shape[1], ..., shape[k-1], shape[0])
        for (int a = 1; a < k; a++) {
            kerasIndex = kerasIndex * shape[a] + idx[a];
        }
        return (int) (kerasIndex * shape[0] + idx[0]);
    }
}
