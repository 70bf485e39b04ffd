package io.dense4j.tune;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hyperparameters as JSON Pointers (RFC 6901) into the model and training config document, each with its
 * {@link Domain}. Because it addresses the config by path, one search space works for any config schema:
 *
 * <pre>
 * {
 *   "/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-4, "max": 1e-2},
 *   "/fit/batch_size":                {"type": "choice", "values": [32, 64, 128]},
 *   "/model/layers/0/units":          {"type": "int", "min": 32, "max": 256, "log": true},
 *   "/model/layers/1/rate":           {"type": "uniform", "min": 0.0, "max": 0.5},
 *   "/model/compile_config/optimizer": {"type": "choice", "values": [{"type": "adam"}, {"type": "sgd"}]},
 *   "/model/compile_config/optimizer/momentum": {"type": "uniform", "min": 0.5, "max": 0.99,
 *                                                "when": {"/model/compile_config/optimizer/type": "sgd"}}
 * }
 * </pre>
 *
 * A parameter with {@code "when"} is set only when each listed path of the config (after the other parameters
 * are applied) equals the given value, or one of the given values when that is an array. Unconditional parameters
 * are applied first, shallower paths before deeper ones, so a choice may replace a whole sub-object that a
 * deeper parameter then tunes. Every parameter owns one coordinate of the sampler's unit cube, used or not.
 */
public final class SearchSpace {
    /** One hyperparameter. */
    public record Parameter(String path, JsonPointer pointer, Domain domain, Map<JsonPointer, List<JsonNode>> when) {
        boolean applies(JsonNode config) {
            for (Map.Entry<JsonPointer, List<JsonNode>> c : when.entrySet()) {
                JsonNode actual = config.at(c.getKey());
                if (actual.isMissingNode() || !c.getValue().contains(actual)) {
                    return false;
                }
            }
            return true;
        }
    }

    private final List<Parameter> parameters;
    /** Application order: indices into parameters. */
    private final List<Integer> order;

    private SearchSpace(List<Parameter> parameters) {
        this.parameters = List.copyOf(parameters);
        List<Integer> o = new ArrayList<>();
        for (int i = 0; i < parameters.size(); i++) {
            o.add(i);
        }
        o.sort(Comparator.<Integer>comparingInt(i -> parameters.get(i).when().isEmpty() ? 0 : 1)
                .thenComparingInt(i -> depth(parameters.get(i).pointer())));
        this.order = List.copyOf(o);
    }

    /** The JSON Pointer of search-space key {@code key} under {@code searchSpacePath} (its '/' and '~' escaped). */
    static String keyPath(String searchSpacePath, String key) {
        return searchSpacePath + "/" + key.replace("~", "~0").replace("/", "~1");
    }

    public static SearchSpace parse(JsonNode n, String path) {
        Json.object(n, path);
        if (n.isEmpty()) {
            throw new ConfigException(path, "the search space is empty: name at least one hyperparameter");
        }
        List<Parameter> ps = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String p = keyPath(path, e.getKey());
            JsonPointer ptr = Json.pointer(e.getKey(), p);
            Domain d = Domain.parse(e.getValue(), p);
            Map<JsonPointer, List<JsonNode>> when = new LinkedHashMap<>();
            JsonNode w = e.getValue().get("when");
            if (w != null && !w.isNull()) {
                Json.object(w, p + "/when");
                for (Iterator<Map.Entry<String, JsonNode>> ci = w.fields(); ci.hasNext(); ) {
                    Map.Entry<String, JsonNode> c = ci.next();
                    List<JsonNode> allowed = new ArrayList<>();
                    if (c.getValue().isArray()) {
                        c.getValue().forEach(allowed::add);
                    } else {
                        allowed.add(c.getValue());
                    }
                    when.put(Json.pointer(c.getKey(), p + "/when"), allowed);
                }
            }
            ps.add(new Parameter(e.getKey(), ptr, d, when));
        }
        return new SearchSpace(ps);
    }

    public List<Parameter> parameters() {
        return parameters;
    }

    public int dimensions() {
        return parameters.size();
    }

    /**
     * The config for the point {@code u} of the unit cube (one coordinate per parameter, in declaration order),
     * with the assignment made (path to value; conditional parameters that did not apply are absent).
     */
    public Assignment assign(JsonNode baseConfig, double[] u) {
        List<JsonNode> values = new ArrayList<>();
        for (int i = 0; i < parameters.size(); i++) {
            values.add(parameters.get(i).domain().at(u[i]));
        }
        return assignValues(baseConfig, values);
    }

    /** The config with parameter i set to {@code values.get(i)}. */
    public Assignment assignValues(JsonNode baseConfig, List<JsonNode> values) {
        ObjectNode config = Json.object(baseConfig, "/config").deepCopy();
        Map<String, JsonNode> applied = new LinkedHashMap<>();
        for (int i : order) {
            Parameter p = parameters.get(i);
            if (!p.applies(config)) {
                continue;
            }
            Json.set(config, p.pointer(), values.get(i).deepCopy(), keyPath("/search_space", p.path()));
            applied.put(p.path(), values.get(i));
        }
        // keep declaration order in what is reported; each value as the config holds it once every parameter is
        // set: a parameter inside another's value (an optimizer's learning_rate in a choice of optimizers) replaces
        // part of it, and the record must show what trained, not what was drawn and overwritten
        Map<String, JsonNode> ordered = new LinkedHashMap<>();
        for (Parameter p : parameters) {
            if (applied.containsKey(p.path())) {
                ordered.put(p.path(), config.at(p.pointer()).deepCopy());
            }
        }
        return new Assignment(ordered, config);
    }

    /** A trial's hyperparameters (path to value) and the complete config they give. */
    public record Assignment(Map<String, JsonNode> values, ObjectNode config) {
        public Assignment {
            values = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(values));
        }
    }

    private static int depth(JsonPointer p) {
        int d = 0;
        for (JsonPointer q = p; !q.matches(); q = q.tail()) {
            d++;
        }
        return d;
    }
}
