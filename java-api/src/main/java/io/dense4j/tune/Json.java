package io.dense4j.tune;

import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Strict reading of JSON configuration trees: every accessor names the path of a missing or mistyped field, and
 * {@link #allowOnly} rejects unknown keys (a misspelt option must not be silently ignored).
 */
public final class Json {
    /** Duplicate keys are an error: two values for one setting is ambiguous. */
    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private Json() {}

    /** Parses a JSON document, as a {@link ConfigException} when malformed. */
    public static JsonNode parse(String text) {
        try {
            JsonNode n = MAPPER.readTree(text);
            if (n == null || n.isMissingNode()) {
                throw new ConfigException("", "the document is empty; a JSON object was expected");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new ConfigException("", "malformed JSON: " + io.dense4j.config.JsonErrors.plain(e.getOriginalMessage())
                    + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column "
                    + e.getLocation().getColumnNr()));
        }
    }

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }

    public static JsonNode tree(Object value) {
        return MAPPER.valueToTree(value);
    }

    /** The node as plain Java values (maps, lists, numbers, strings, booleans, null). */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> toMap(JsonNode node) {
        return MAPPER.convertValue(node, Map.class);
    }

    public static Object toPlain(JsonNode node) {
        return MAPPER.convertValue(node, Object.class);
    }

    public static ObjectNode object(JsonNode n, String path) {
        if (n == null || !n.isObject()) {
            throw new ConfigException(path, "expected a JSON object, got " + kind(n));
        }
        return (ObjectNode) n;
    }

    /** Rejects keys outside {@code allowed}, naming them and what is accepted. */
    public static void allowOnly(JsonNode obj, String path, Set<String> allowed) {
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = obj.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                unknown.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            throw new ConfigException(path, "unknown field" + (unknown.size() > 1 ? "s " : " ") + unknown
                    + "; accepted: " + new java.util.TreeSet<>(allowed));
        }
    }

    public static String text(JsonNode obj, String key, String path, String dflt) {
        JsonNode v = obj.get(key);
        if (v == null || v.isNull()) {
            if (dflt == null) {
                throw new ConfigException(path + "/" + key, "is required");
            }
            return dflt;
        }
        if (!v.isTextual()) {
            throw new ConfigException(path + "/" + key, "expected a string, got " + kind(v));
        }
        return v.asText();
    }

    public static double number(JsonNode obj, String key, String path, Double dflt) {
        JsonNode v = obj.get(key);
        if (v == null || v.isNull()) {
            if (dflt == null) {
                throw new ConfigException(path + "/" + key, "is required");
            }
            return dflt;
        }
        if (!v.isNumber()) {
            throw new ConfigException(path + "/" + key, "expected a number, got " + kind(v));
        }
        double d = v.asDouble();
        if (!Double.isFinite(d)) {
            throw new ConfigException(path + "/" + key, "must be finite, got " + v);
        }
        return d;
    }

    public static long integer(JsonNode obj, String key, String path, Long dflt, long min, long max) {
        JsonNode v = obj.get(key);
        if (v == null || v.isNull()) {
            if (dflt == null) {
                throw new ConfigException(path + "/" + key, "is required");
            }
            return dflt;
        }
        if (!v.isIntegralNumber() && !(v.isNumber() && v.asDouble() == Math.rint(v.asDouble()))) {
            throw new ConfigException(path + "/" + key, "expected an integer, got " + v);
        }
        if (!v.canConvertToLong() && v.isIntegralNumber()) {
            throw new ConfigException(path + "/" + key, "must be in [" + min + ", " + max + "], got " + v);
        }
        double d = v.asDouble();
        if (d < min || d > max) {
            throw new ConfigException(path + "/" + key, "must be in [" + min + ", " + max + "], got " + v);
        }
        return (long) d;
    }

    public static boolean bool(JsonNode obj, String key, String path, boolean dflt) {
        JsonNode v = obj.get(key);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw new ConfigException(path + "/" + key, "expected true or false, got " + kind(v));
        }
        return v.asBoolean();
    }

    public static String kind(JsonNode n) {
        if (n == null || n.isMissingNode()) {
            return "nothing";
        }
        return switch (n.getNodeType()) {
            case OBJECT -> "an object";
            case ARRAY -> "an array";
            case STRING -> "the string \"" + abbreviate(n.asText()) + "\"";
            case NUMBER -> "the number " + n;
            case BOOLEAN -> n.toString();
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase();
        };
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }

    /** Parses an RFC 6901 JSON Pointer ("/layers/0/units"), as a {@link ConfigException} when malformed. */
    public static JsonPointer pointer(String p, String path) {
        if (p.matches("(?s).*~([^01].*|$)")) { // RFC 6901: only ~0 ('~') and ~1 ('/')
            throw new ConfigException(path, "'" + p + "' is not a JSON Pointer: '~' must be followed by 0 ('~') or 1 ('/')");
        }
        try {
            JsonPointer ptr = JsonPointer.compile(p);
            if (ptr.matches()) {
                throw new ConfigException(path, "the empty pointer would replace the whole config");
            }
            return ptr;
        } catch (IllegalArgumentException e) {
            if (e instanceof ConfigException ce) {
                throw ce;
            }
            throw new ConfigException(path, "'" + p + "' is not a JSON Pointer (RFC 6901: \"/layers/0/units\")");
        }
    }

    /**
     * Sets the value at {@code ptr} in {@code root} (mutated): missing object members on the way are created, array
     * elements must exist already (a pointer cannot invent a layer).
     */
    public static void set(JsonNode root, JsonPointer ptr, JsonNode value, String path) {
        JsonNode parent = root;
        JsonPointer p = ptr;
        while (!p.tail().matches()) {
            String seg = p.getMatchingProperty();
            JsonNode next;
            if (parent.isArray()) {
                int i = p.getMatchingIndex();
                if (i < 0 || i >= parent.size()) {
                    throw new ConfigException(path, "index " + seg + " is outside the config's array of "
                            + parent.size() + " at " + ptr.toString().substring(0, ptr.toString().indexOf(p.toString())));
                }
                next = parent.get(i);
            } else if (parent.isObject()) {
                next = parent.get(seg);
                if (next == null || next.isNull()) {
                    next = ((ObjectNode) parent).putObject(seg);
                }
            } else {
                throw new ConfigException(path, "cannot descend into " + kind(parent) + " at segment '" + seg + "'");
            }
            parent = next;
            p = p.tail();
        }
        String last = p.getMatchingProperty();
        if (parent.isObject()) {
            ((ObjectNode) parent).set(last, value);
        } else if (parent.isArray()) {
            int i = p.getMatchingIndex();
            if (i < 0 || i >= parent.size()) {
                throw new ConfigException(path, "index " + last + " is outside the config's array of " + parent.size());
            }
            ((ArrayNode) parent).set(i, value);
        } else {
            throw new ConfigException(path, "cannot set a member of " + kind(parent));
        }
    }
}
