package io.dense4j.interop;

import io.dense4j.data.Normalizer;
import io.dense4j.interop.NetworkSpec.Affine;
import io.dense4j.interop.NetworkSpec.DenseSpec;
import io.dense4j.interop.NetworkSpec.DropoutSpec;
import io.dense4j.interop.NetworkSpec.LayerSpec;
import io.dense4j.interop.NetworkSpec.Preprocessing;
import io.dense4j.interop.NetworkSpec.Scale;
import io.dense4j.interop.NetworkSpec.Training;
import io.dense4j.layers.Architecture;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.layers.Layer;
import io.dense4j.model.CompileConfig;
import io.dense4j.model.ModelConfig;
import io.dense4j.model.ModelState;
import io.dense4j.optim.OptimizerState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where the converters meet Dense4J's model API: turns a {@link NetworkSpec} into a
 * {@link ModelState} (the plain values a model is built from and a model file holds) and describes a state as one.
 * Only the public config and state types are used (layers, {@code ModelConfig}, {@code CompileConfig},
 * {@code ModelState}, {@code Normalizer}), so a change of the model API means changing this class alone, and
 * converting needs no native memory.
 */
public final class ModelAdapter {
    private ModelAdapter() {}

    /**
     * A validated model state with the spec's layers, weights, preprocessing, class names and (when given) training
     * setup, and {@code training} as its training record.
     */
    public static ModelState build(NetworkSpec spec, Map<String, Object> training) {
        List<Layer> layers = new ArrayList<>();
        List<float[]> params = new ArrayList<>();
        long count = 0;
        boolean first = true;
        for (LayerSpec l : spec.layers()) {
            if (l instanceof DenseSpec d) {
                layers.add(first ? Dense.of(d.inputs(), d.units(), d.activation()) : Dense.of(d.units(), d.activation()));
                first = false;
                params.add(d.kernel());
                params.add(d.bias());
                count += d.kernel().length + (long) d.bias().length;
            } else if (l instanceof DropoutSpec r) {
                layers.add(Dropout.of(r.rate()));
            }
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("the model has " + count + " parameters; Dense4J holds at most "
                    + (Integer.MAX_VALUE - 8));
        }
        float[] all = new float[(int) count];
        int at = 0;
        for (float[] p : params) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        Training t = spec.training();
        ModelConfig config = new ModelConfig(layers,
                spec.preprocessing() == null ? null : normalizer(spec.preprocessing()),
                t == null ? null : new CompileConfig(t.optimizer(), t.loss(), t.metrics()));
        return new ModelState(config, all, OptimizerState.initial(), spec.classNames(), training).validate();
    }

    /** The state as a spec: its layers with a copy of their weights, preprocessing, class names, training setup. */
    public static NetworkSpec describe(ModelState state) {
        ModelConfig config = state.config();
        Architecture arch = config.architecture();
        List<LayerSpec> layers = new ArrayList<>();
        int dense = 0;
        for (Layer l : config.layers()) {
            if (l instanceof Dense d) {
                List<float[]> w = state.layerWeights(dense);
                layers.add(new DenseSpec(arch.size(dense), arch.size(dense + 1), d.activation(), w.get(0), w.get(1)));
                dense++;
            } else if (l instanceof Dropout r) {
                layers.add(new DropoutSpec(r.rate()));
            }
        }
        CompileConfig c = config.compile();
        Training training = c == null ? null : new Training(c.optimizer(), c.loss(), c.metrics());
        return new NetworkSpec(arch.inputs(), preprocessing(config.preprocessing()), layers, training,
                state.classNames());
    }

    private static Normalizer normalizer(Preprocessing p) {
        if (p instanceof Scale s) {
            return Normalizer.scale(s.factor());
        }
        Affine a = (Affine) p;
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", "standardize");
        c.put("mean", a.shift());
        c.put("std", a.div());
        return Normalizer.fromConfig(c);
    }

    /** The normalizer's transform: both fitted kinds are (x - shift) / div, with div as the normalizer computes it. */
    private static Preprocessing preprocessing(Normalizer n) {
        if (n == null) {
            return null;
        }
        Map<String, Object> c = n.config();
        String type = String.valueOf(c.get("type"));
        if ("scale".equals(type)) {
            return new Scale(((Number) c.get("scale")).floatValue());
        }
        if (!n.isFitted()) {
            throw new IllegalArgumentException("the model's " + type + " normalizer is not fitted yet: fit the model first");
        }
        return switch (type) {
            case "standardize" -> new Affine(floats(c.get("mean")), floats(c.get("std")));
            case "minmax" -> {
                float[] lo = floats(c.get("min"));
                float[] hi = floats(c.get("max"));
                float[] div = new float[lo.length];
                for (int j = 0; j < lo.length; j++) {
                    float r = hi[j] - lo[j]; // as MinMaxNormalizer: a constant feature divides by 1
                    div[j] = r > 0f && Float.isFinite(r) ? r : 1f;
                }
                yield new Affine(lo, div);
            }
            default -> throw new IllegalArgumentException("cannot export a '" + type + "' normalizer");
        };
    }

    private static float[] floats(Object o) {
        if (o instanceof float[] f) {
            return f.clone();
        }
        List<?> l = (List<?>) o;
        float[] f = new float[l.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = ((Number) l.get(i)).floatValue();
        }
        return f;
    }
}
