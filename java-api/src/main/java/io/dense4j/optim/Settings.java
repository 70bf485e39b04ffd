package io.dense4j.optim;

/** Checks and config conversions shared by the optimizer records. */
final class Settings {
    private Settings() {}

    static double check(String name, double v) {
        if (!Double.isFinite(v) || v < 0) {
            throw new IllegalArgumentException("optimizer setting " + name + " must be finite and >= 0, got " + v);
        }
        if (!Float.isFinite((float) v)) { // the kernels take it as a float: 1e39 would reach them as infinity
            throw new IllegalArgumentException("optimizer setting " + name + " must be at most " + Float.MAX_VALUE
                    + " (a 32-bit float), got " + v);
        }
        return v;
    }

    /** A clip threshold from a config: null or absent means off (0). */
    static double clip(Double v, String name) {
        return v == null ? 0 : check(name, v);
    }

    /** "adam(learning_rate=0.001, beta_1=0.9, ...)": the type and every setting, as the config names them. */
    static String describe(Optimizer o) {
        com.fasterxml.jackson.databind.node.ObjectNode tree = io.dense4j.config.Configs.toTree(o);
        StringBuilder b = new StringBuilder(tree.get("type").asText()).append('(');
        String sep = "";
        for (java.util.Iterator<java.util.Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it = tree.fields();
                it.hasNext(); ) {
            var e = it.next();
            if (!e.getKey().equals("type")) {
                b.append(sep).append(e.getKey()).append('=').append(e.getValue());
                sep = ", ";
            }
        }
        return b.append(')').toString();
    }

    /** A clip threshold as a config writes it: null when off. */
    static Double clipOrNull(double v) {
        return v > 0 ? v : null;
    }
}
