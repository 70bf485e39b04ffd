package io.dense4j.optim;

/** Checks and config conversions shared by the optimizer records. */
final class Settings {
    private Settings() {}

    static double check(String name, double v) {
        if (!Double.isFinite(v) || v < 0) {
            throw new IllegalArgumentException("optimizer setting " + name + " must be finite and >= 0, got " + v);
        }
        return v;
    }

    /** A clip threshold from a config: null or absent means off (0). */
    static double clip(Double v, String name) {
        return v == null ? 0 : check(name, v);
    }

    /** A clip threshold as a config writes it: null when off. */
    static Double clipOrNull(double v) {
        return v > 0 ? v : null;
    }
}
