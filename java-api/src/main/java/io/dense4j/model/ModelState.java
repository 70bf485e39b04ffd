package io.dense4j.model;

import io.dense4j.config.Configs;
import io.dense4j.layers.Architecture;
import io.dense4j.optim.OptimizerState;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a model is, as plain values and no native memory: its config (layers, preprocessing, compile
 * settings), its parameters, its optimizer state, and metadata (class names, the record of its last fit).
 * {@code Sequential.state()} takes one, {@code Sequential.fromState} builds a model from one, {@code ModelFile}
 * writes and reads one, and a distributed trainer broadcasts, averages and collects them.
 *
 * @param config         the model's config; its preprocessing is fitted when the model was trained with one
 * @param parameters     every weight and bias, laid out as {@link Architecture} says
 * @param optimizer      the optimizer's step and (when known) its buffers
 * @param classNames     one name per output, or empty
 * @param training       what the last fit recorded (JSON values: epochs, history, seed...), or empty
 */
public record ModelState(ModelConfig config, float[] parameters, OptimizerState optimizer, List<String> classNames,
                         Map<String, Object> training) {
    public ModelState {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(parameters, "parameters");
        parameters = parameters.clone();
        optimizer = optimizer == null ? OptimizerState.initial() : optimizer;
        classNames = classNames == null ? List.of() : List.copyOf(classNames);
        training = training == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(training));
    }

    @Override
    public float[] parameters() {
        return parameters.clone();
    }

    /**
     * Checks the state against its own config, before anything is built from it: a valid architecture and loss,
     * one finite parameter per weight, optimizer buffers of the right size only for a compiled model, one class
     * name per output.
     *
     * @throws IllegalArgumentException naming the problem
     */
    public ModelState validate() {
        Architecture arch = config.validate().architecture();
        if (parameters.length != arch.parameterCount()) {
            throw new IllegalArgumentException("the architecture has " + arch.parameterCount() + " parameters, the state "
                    + parameters.length);
        }
        for (int i = 0; i < parameters.length; i++) {
            if (!Float.isFinite(parameters[i])) {
                throw new IllegalArgumentException("parameter " + i + " is " + parameters[i]);
            }
        }
        if (optimizer.hasSlots()) {
            if (config.compile() == null) {
                throw new IllegalArgumentException("optimizer state without an optimizer (the config has no compile_config)");
            }
            optimizer.checkFor(arch.parameterCount());
        }
        if (!classNames.isEmpty() && classNames.size() != arch.outputs()) {
            throw new IllegalArgumentException(classNames.size() + " class names for " + arch.outputs() + " outputs");
        }
        return this;
    }

    /** The same state with other parameters (e.g. the average a data-parallel driver computed). */
    public ModelState withParameters(float[] values) {
        return new ModelState(config, values, optimizer, classNames, training);
    }

    /** The same state with another optimizer state. */
    public ModelState withOptimizer(OptimizerState state) {
        return new ModelState(config, parameters, state, classNames, training);
    }

    /**
     * The weighted mean of states of the same model (FedAvg with sample counts as weights; plain averaging of
     * data-parallel workers with equal weights): parameters and, when every state has them, optimizer buffers are
     * averaged element by element; the step is the largest; config, class names and training record are the first
     * state's.
     *
     * @throws IllegalArgumentException no states, states of different models or sizes, weights not positive
     */
    public static ModelState weightedAverage(List<ModelState> states, double[] weights) {
        if (states.isEmpty() || weights.length != states.size()) {
            throw new IllegalArgumentException("need one weight per state and at least one state, got "
                    + states.size() + " states and " + weights.length + " weights");
        }
        ModelState first = states.get(0);
        String layout = first.config.withCompile(null).withPreprocessing(null).toJson();
        double total = 0;
        for (int s = 0; s < states.size(); s++) {
            if (!(weights[s] > 0) || !Double.isFinite(weights[s])) {
                throw new IllegalArgumentException("weight " + s + " is " + weights[s] + ", weights must be > 0");
            }
            if (!states.get(s).config.withCompile(null).withPreprocessing(null).toJson().equals(layout)) {
                throw new IllegalArgumentException("state " + s + " is of another architecture than state 0");
            }
            total += weights[s];
        }
        int n = first.parameters.length;
        double[] params = new double[n];
        boolean slots = states.stream().allMatch(st -> st.optimizer.hasSlots());
        double[] opt = slots ? new double[first.optimizer.slots().length] : null;
        long step = 0;
        for (int s = 0; s < states.size(); s++) {
            ModelState st = states.get(s);
            double w = weights[s] / total;
            for (int i = 0; i < n; i++) {
                params[i] += w * st.parameters[i];
            }
            if (slots) {
                float[] v = st.optimizer.slots();
                if (v.length != opt.length) {
                    throw new IllegalArgumentException("state " + s + " has optimizer buffers of another size");
                }
                for (int i = 0; i < v.length; i++) {
                    opt[i] += w * v[i];
                }
            }
            step = Math.max(step, st.optimizer.step());
        }
        return new ModelState(first.config, toFloats(params), new OptimizerState(step, slots ? toFloats(opt) : null),
                first.classNames, first.training);
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    /** Layer l's kernel [inputs, units] and bias [units], copied out of {@link #parameters()}. */
    public List<float[]> layerWeights(int l) {
        Architecture arch = config.architecture();
        List<float[]> w = new ArrayList<>(2);
        int k = Math.toIntExact(arch.kernelSize(l));
        float[] kernel = new float[k];
        float[] bias = new float[arch.size(l + 1)];
        System.arraycopy(parameters, (int) arch.kernelOffset(l), kernel, 0, k);
        System.arraycopy(parameters, (int) arch.biasOffset(l), bias, 0, bias.length);
        w.add(kernel);
        w.add(bias);
        return w;
    }

    /** Equal values: the same config (as JSON), parameters, optimizer state, class names and training record. */
    @Override
    public boolean equals(Object o) {
        return o instanceof ModelState s && s.config.toJson().equals(config.toJson())
                && java.util.Arrays.equals(s.parameters, parameters)
                && s.optimizer.equals(optimizer) && s.classNames.equals(classNames)
                // as JSON: a training record read back from a file has Integer where the live one had Long
                && Configs.toJson(s.training).equals(Configs.toJson(training));
    }

    @Override
    public int hashCode() {
        return Objects.hash(config.toJson(), java.util.Arrays.hashCode(parameters), optimizer, classNames);
    }

    @Override
    public String toString() {
        return "ModelState[" + config.architecture() + ", " + parameters.length + " parameters, " + optimizer + "]";
    }
}
