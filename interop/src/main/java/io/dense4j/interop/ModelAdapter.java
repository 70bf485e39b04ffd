package io.dense4j.interop;

import io.dense4j.Sequential;
import io.dense4j.data.Normalizer;
import io.dense4j.interop.NetworkSpec.Affine;
import io.dense4j.interop.NetworkSpec.DenseSpec;
import io.dense4j.interop.NetworkSpec.DropoutSpec;
import io.dense4j.interop.NetworkSpec.LayerSpec;
import io.dense4j.interop.NetworkSpec.Preprocessing;
import io.dense4j.interop.NetworkSpec.Scale;
import io.dense4j.interop.NetworkSpec.Training;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.layers.Layer;
import io.dense4j.train.Metric;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where the converters meet Dense4J's model API: builds a {@link Sequential} from a
 * {@link NetworkSpec} and describes a Sequential as one. Only public, stable calls are used (Sequential.of, Dense.of,
 * Dropout.of, compile, setParameters / kernel / bias, preprocessing, classNames), so a change of the model API means
 * changing this class alone.
 */
public final class ModelAdapter {
    private ModelAdapter() {}

    /** A new model with the spec's layers, weights, preprocessing, class names and (when given) training setup. */
    public static Sequential build(NetworkSpec spec) {
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
        Sequential model = Sequential.of(layers);
        try {
            float[] all = new float[(int) count];
            int at = 0;
            for (float[] p : params) {
                System.arraycopy(p, 0, all, at, p.length);
                at += p.length;
            }
            model.setParameters(all);
            if (spec.preprocessing() != null) {
                model.preprocessing(normalizer(spec.preprocessing()));
            }
            model.classNames(spec.classNames());
            Training t = spec.training();
            if (t != null) {
                model.compile(t.optimizer(), t.loss(), t.metrics().toArray(new Metric[0]));
            }
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** The model as a spec: its layers with a copy of their weights, preprocessing, class names, training setup. */
    public static NetworkSpec describe(Sequential model) {
        int[] sizes = model.architecture().sizes();
        List<LayerSpec> layers = new ArrayList<>();
        int dense = 0;
        for (Layer l : model.layers()) {
            if (l instanceof Dense d) {
                layers.add(new DenseSpec(sizes[dense], sizes[dense + 1], d.activation(), model.kernel(dense),
                        model.bias(dense)));
                dense++;
            } else if (l instanceof Dropout r) {
                layers.add(new DropoutSpec(r.rate()));
            }
        }
        Training training = model.loss() == null ? null : new Training(model.optimizer(), model.loss(), model.metrics());
        return new NetworkSpec(sizes[0], preprocessing(model.preprocessing()), layers, training, model.classNames());
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
