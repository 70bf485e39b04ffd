package io.dense4j.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.LongNode;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The values one hyperparameter may take. A point u in [0, 1) of the unit cube maps to a value (random and
 * quasi-random sampling); {@link #grid} lists the values a grid search tries.
 *
 * <pre>
 * {"type": "uniform",     "min": 0.0,  "max": 0.5}
 * {"type": "log_uniform", "min": 1e-4, "max": 1e-1}          learning rates: uniform in log space
 * {"type": "int",         "min": 32,   "max": 512, "log": true}  units, batch sizes; both ends included
 * {"type": "choice",      "values": ["adam", "sgd", {"type": "rmsprop", "centered": true}]}
 * </pre>
 * Continuous domains take {@code "grid_points": n} for grid search (evenly spaced, in log space for log_uniform).
 */
public sealed interface Domain {
    /** The value at u in [0, 1). */
    JsonNode at(double u);

    /** The values of a grid search, in increasing order (choices in their given order). */
    List<JsonNode> grid();

    record Uniform(double min, double max, int gridPoints) implements Domain {
        public JsonNode at(double u) {
            return DoubleNode.valueOf(min + u * (max - min));
        }

        public List<JsonNode> grid() {
            List<JsonNode> g = new ArrayList<>();
            for (int i = 0; i < gridPoints; i++) {
                g.add(DoubleNode.valueOf(gridPoints == 1 ? (min + max) / 2 : min + (max - min) * i / (gridPoints - 1)));
            }
            return g;
        }
    }

    record LogUniform(double min, double max, int gridPoints) implements Domain {
        public JsonNode at(double u) {
            return DoubleNode.valueOf(Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))));
        }

        public List<JsonNode> grid() {
            List<JsonNode> g = new ArrayList<>();
            for (int i = 0; i < gridPoints; i++) {
                double t = gridPoints == 1 ? 0.5 : (double) i / (gridPoints - 1);
                g.add(DoubleNode.valueOf(Math.exp(Math.log(min) + t * (Math.log(max) - Math.log(min)))));
            }
            return g;
        }
    }

    /** Integers in [min, max], each equally likely, or (log) uniform in log space over [min, max + 1). */
    record IntRange(long min, long max, boolean log, int gridPoints) implements Domain {
        public JsonNode at(double u) {
            long v;
            if (log) {
                v = (long) Math.floor(Math.exp(Math.log(min) + u * (Math.log(max + 1.0) - Math.log(min))));
            } else {
                v = min + (long) Math.floor(u * (max - min + 1.0));
            }
            return LongNode.valueOf(Math.max(min, Math.min(max, v)));
        }

        public List<JsonNode> grid() {
            long count = max - min + 1;
            Set<Long> vals = new LinkedHashSet<>();
            if (gridPoints == 0 || count <= gridPoints && !log) {
                for (long v = min; v <= max; v++) {
                    vals.add(v);
                }
            } else {
                for (int i = 0; i < gridPoints; i++) {
                    double t = gridPoints == 1 ? 0.5 : (double) i / (gridPoints - 1);
                    vals.add(log ? Math.round(Math.exp(Math.log(min) + t * (Math.log(max) - Math.log(min))))
                            : Math.round(min + t * (max - min)));
                }
            }
            List<JsonNode> g = new ArrayList<>();
            vals.forEach(v -> g.add(LongNode.valueOf(v)));
            return g;
        }
    }

    record Choice(List<JsonNode> values) implements Domain {
        public Choice {
            values = List.copyOf(values);
        }

        public JsonNode at(double u) {
            int i = (int) Math.floor(u * values.size());
            return values.get(Math.max(0, Math.min(values.size() - 1, i))).deepCopy();
        }

        public List<JsonNode> grid() {
            List<JsonNode> g = new ArrayList<>();
            values.forEach(v -> g.add(v.deepCopy()));
            return g;
        }
    }

    /** Grid points are listed only for integer ranges wider than this without an explicit grid_points. */
    int MAX_INT_GRID = 1000;

    static Domain parse(JsonNode n, String path) {
        Json.object(n, path);
        String type = Json.text(n, "type", path, null);
        switch (type) {
            case "uniform", "log_uniform" -> {
                Json.allowOnly(n, path, Set.of("type", "min", "max", "grid_points", "when"));
                double min = Json.number(n, "min", path, null);
                double max = Json.number(n, "max", path, null);
                int gp = (int) Json.integer(n, "grid_points", path, 0L, 0, 1000);
                if (!(min < max)) {
                    throw new ConfigException(path, "min must be below max, got [" + min + ", " + max + "]");
                }
                if (type.equals("log_uniform") && !(min > 0)) {
                    throw new ConfigException(path + "/min", "a log-uniform range must be positive, got " + min);
                }
                return type.equals("uniform") ? new Uniform(min, max, gp) : new LogUniform(min, max, gp);
            }
            case "int" -> {
                Json.allowOnly(n, path, Set.of("type", "min", "max", "log", "grid_points", "when"));
                long min = Json.integer(n, "min", path, null, -(1L << 40), 1L << 40);
                long max = Json.integer(n, "max", path, null, -(1L << 40), 1L << 40);
                boolean log = Json.bool(n, "log", path, false);
                int gp = (int) Json.integer(n, "grid_points", path, 0L, 0, 1000);
                if (min > max) {
                    throw new ConfigException(path, "min must not exceed max, got [" + min + ", " + max + "]");
                }
                if (log && min < 1) {
                    throw new ConfigException(path + "/min", "a log-scaled integer range must start at >= 1, got " + min);
                }
                return new IntRange(min, max, log, gp);
            }
            case "choice" -> {
                Json.allowOnly(n, path, Set.of("type", "values", "when"));
                JsonNode vs = n.get("values");
                if (vs == null || !vs.isArray() || vs.isEmpty()) {
                    throw new ConfigException(path + "/values", "expected a non-empty array of candidate values");
                }
                List<JsonNode> values = new ArrayList<>();
                vs.forEach(values::add);
                return new Choice(values);
            }
            default -> throw new ConfigException(path + "/type",
                    "unknown domain '" + type + "': expected uniform, log_uniform, int or choice");
        }
    }

    /** Whether a grid search can enumerate it (continuous ranges need grid_points). */
    default String gridProblem() {
        if (this instanceof Uniform u && u.gridPoints() == 0 || this instanceof LogUniform l && l.gridPoints() == 0) {
            return "a continuous range needs \"grid_points\" for a grid search";
        }
        if (this instanceof IntRange r && r.gridPoints() == 0 && r.max() - r.min() + 1 > MAX_INT_GRID) {
            return "an integer range of more than " + MAX_INT_GRID + " values needs \"grid_points\" for a grid search";
        }
        return null;
    }
}
