package io.dense4j.federated.protocol;

import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checked reading of a message's JSON fields: every field is required unless read with a default, of its type, in
 * its range, and {@link #done()} refuses fields nobody read (a misspelt or injected field is an error, not
 * silently ignored). Errors name the message and the field.
 */
final class Fields {
    private final String where;
    private final Map<String, Object> map;
    private final Limits limits;
    private final Set<String> read = new HashSet<>();

    Fields(String where, Map<String, Object> map, Limits limits) {
        this.where = where;
        this.map = map;
        this.limits = limits;
    }

    private Object get(String name) {
        read.add(name);
        Object v = map.get(name);
        if (v == null) {
            throw bad("lacks '" + name + "'");
        }
        return v;
    }

    boolean has(String name) {
        return map.get(name) != null;
    }

    String string(String name) {
        if (!(get(name) instanceof String s)) {
            throw bad("'" + name + "' must be a string");
        }
        if (s.length() > limits.maxStringLength()) {
            throw new ProtocolException(ProtocolException.Code.TOO_LARGE, where + ": '" + name + "' is " + s.length()
                    + " characters, the limit is " + limits.maxStringLength());
        }
        return s;
    }

    long integer(String name, long min, long max) {
        Object v = get(name);
        if (!(v instanceof Integer || v instanceof Long)) {
            throw bad("'" + name + "' must be an integer, got " + describe(v));
        }
        long x = ((Number) v).longValue();
        if (x < min || x > max) {
            throw bad("'" + name + "' = " + x + " is outside [" + min + ", " + max + "]");
        }
        return x;
    }

    double number(String name, double min, double max) {
        Object v = get(name);
        if (!(v instanceof Number n)) {
            throw bad("'" + name + "' must be a number, got " + describe(v));
        }
        double x = n.doubleValue();
        if (!(x >= min && x <= max)) {
            throw bad("'" + name + "' = " + x + " is outside [" + min + ", " + max + "]");
        }
        return x;
    }

    boolean bool(String name) {
        if (!(get(name) instanceof Boolean b)) {
            throw bad("'" + name + "' must be true or false");
        }
        return b;
    }

    /** Base64 bytes of a length in [min, max]. */
    byte[] bytes(String name, int min, int max) {
        String s = string(name);
        byte[] b;
        try {
            b = Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            throw bad("'" + name + "' is not base64");
        }
        if (b.length < min || b.length > max) {
            throw bad("'" + name + "' is " + b.length + " bytes, expected " + (min == max ? "" + min : min + " to " + max));
        }
        return b;
    }

    List<Fields> list(String name) {
        if (!(get(name) instanceof List<?> l)) {
            throw bad("'" + name + "' must be a list");
        }
        checkCount(name, l.size());
        List<Fields> out = new ArrayList<>(l.size());
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof Map<?, ?> m)) {
                throw bad("'" + name + "[" + i + "]' must be an object");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> entry = (Map<String, Object>) m;
            out.add(new Fields(where + " " + name + "[" + i + "]", entry, limits));
        }
        return out;
    }

    int[] ints(String name, int min, int max) {
        if (!(get(name) instanceof List<?> l)) {
            throw bad("'" + name + "' must be a list of integers");
        }
        checkCount(name, l.size());
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = l.get(i);
            if (!(v instanceof Integer || v instanceof Long) || ((Number) v).longValue() < min
                    || ((Number) v).longValue() > max) {
                throw bad("'" + name + "[" + i + "]' must be an integer in [" + min + ", " + max + "], got "
                        + (v instanceof Number ? v : describe(v)));
            }
            out[i] = ((Number) v).intValue();
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    Map<String, Object> object(String name) {
        if (!(get(name) instanceof Map<?, ?> m)) {
            throw bad("'" + name + "' must be an object");
        }
        return (Map<String, Object>) m;
    }

    Fields fields(String name) {
        return new Fields(where + " " + name, object(name), limits);
    }

    /** Refuses fields that were not read. */
    void done() {
        for (String k : map.keySet()) {
            if (!read.contains(k)) {
                throw bad("has an unexpected field '" + (k.length() > 40 ? k.substring(0, 40) + "..." : k) + "'");
            }
        }
    }

    private void checkCount(String name, int n) {
        if (n > limits.maxListEntries()) {
            throw new ProtocolException(ProtocolException.Code.TOO_LARGE, where + ": '" + name + "' has " + n
                    + " entries, the limit is " + limits.maxListEntries());
        }
    }

    ProtocolException bad(String what) {
        return new ProtocolException(ProtocolException.Code.BAD_MESSAGE, where + " " + what);
    }

    private static String describe(Object v) {
        return v == null ? "null" : v instanceof String ? "a string" : v.getClass().getSimpleName().toLowerCase();
    }
}
