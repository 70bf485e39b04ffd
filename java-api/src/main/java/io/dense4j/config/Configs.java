package io.dense4j.config;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.PropertyAccessor;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.introspect.AnnotatedClass;
import com.fasterxml.jackson.databind.introspect.AnnotatedClassResolver;
import com.fasterxml.jackson.databind.jsontype.NamedType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * THE one JSON mapper of Dense4J and its configuration. Every config object (layers, losses, metrics, optimizers,
 * learning-rate schedules, normalizers, model configs, fit settings) maps to JSON and back through it, by its
 * Jackson annotations: polymorphic types carry a {@code "type"} name, fields are snake_case as in Keras configs.
 *
 * <p>Only annotated properties are config (auto-detection is off). Reading is strict, because a config usually comes from a person or another service: unknown fields,
 * duplicate keys, trailing content and fractional numbers for integers are errors. Every failure is an
 * {@link IllegalArgumentException} whose message names the offending field by its path (e.g.
 * {@code layers[1].units}) and says what is wrong.
 */
public final class Configs {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            // "5" is not 5, nor "true" true: a quoted number was accepted for some fields and refused for others
            .disable(com.fasterxml.jackson.databind.MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            // only what the classes annotate is config: no getter becomes a field by accident
            .setVisibility(PropertyAccessor.ALL, JsonAutoDetect.Visibility.NONE);

    private Configs() {}

    /** Compact JSON of a config object. */
    public static String toJson(Object config) {
        try {
            return MAPPER.writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write the config: " + describe(e), e);
        }
    }

    /** Indented JSON of a config object (for files people read). */
    public static String toPrettyJson(Object config) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write the config: " + describe(e), e);
        }
    }

    /** A config object of {@code type} from JSON text. */
    public static <T> T fromJson(String json, Class<T> type) {
        try {
            return MAPPER.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("invalid " + configName(type) + ": " + describe(e), e);
        }
    }

    /** A value of a generic type (a list, a map of plain values) from JSON text. */
    public static <T> T fromJson(String json, TypeReference<T> type) {
        try {
            return MAPPER.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("invalid JSON: " + describe(e), e);
        }
    }

    /** A config object of {@code type} from a JSON file; the message names the file. */
    public static <T> T fromJson(Path file, Class<T> type) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        try {
            return MAPPER.readValue(text, type);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": invalid " + configName(type) + ": " + describe(e), e);
        }
    }

    /** The JSON tree of a config object. */
    public static ObjectNode toTree(Object config) {
        JsonNode n = MAPPER.valueToTree(config);
        if (!(n instanceof ObjectNode o)) {
            throw new IllegalArgumentException("config of " + config.getClass().getSimpleName() + " is not a JSON object");
        }
        return o;
    }

    /** Parses JSON text into a tree (strictly: duplicate keys and trailing content are errors). */
    public static JsonNode parse(String json) {
        try {
            return MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("invalid JSON: " + describe(e), e);
        }
    }

    /** A config object of {@code type} from a JSON tree. */
    public static <T> T fromTree(JsonNode tree, Class<T> type) {
        try {
            return MAPPER.treeToValue(tree, type);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid " + configName(type) + ": " + describe(e), e);
        }
    }

    /** The config as plain JSON values (maps, lists, strings, numbers, booleans). */
    public static Map<String, Object> toMap(Object config) {
        return MAPPER.convertValue(config, new TypeReference<Map<String, Object>>() {});
    }

    /** A config object of {@code type} from plain JSON values, as {@link #toMap} gives them. */
    public static <T> T fromMap(Map<String, ?> map, Class<T> type) {
        try {
            return MAPPER.convertValue(map, type);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid " + configName(type) + ": "
                    + (e.getCause() instanceof JsonProcessingException j ? describe(j) : e.getMessage()), e);
        }
    }

    /** The problem and where it is: "layers[1].units: Dense units must be positive, got 0". */
    static String describe(Throwable t) {
        InvalidTypeIdException badType = find(t, InvalidTypeIdException.class);
        if (badType != null) {
            return where(badType) + "unknown " + words(badType.getBaseType().getRawClass().getSimpleName()) + " type '"
                    + badType.getTypeId() + "', expected one of " + String.join(", ", typeNames(badType.getBaseType()));
        }
        com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException unknown =
                find(t, com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException.class);
        if (unknown != null) {
            java.util.List<String> known = new java.util.ArrayList<>();
            if (unknown.getKnownPropertyIds() != null) {
                unknown.getKnownPropertyIds().forEach(k -> known.add(String.valueOf(k)));
            }
            java.util.Collections.sort(known);
            return where(unknown) + "unknown field \"" + unknown.getPropertyName() + "\""
                    + (known.isEmpty() ? "" : " (known: " + String.join(", ", known) + ")");
        }
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root && !(root instanceof JsonMappingException)) {
            root = root.getCause();
        }
        if (!(root instanceof JsonMappingException m)) {
            return root instanceof JsonProcessingException p ? JsonErrors.plain(p.getOriginalMessage())
                    : String.valueOf(t.getMessage());
        }
        // the deepest cause is our own validation message when a constructor refused the values
        Throwable cause = m.getCause();
        while (cause instanceof JsonMappingException jm && jm.getCause() != null) {
            cause = jm.getCause();
        }
        String what = cause != null && !(cause instanceof JsonProcessingException) ? cause.getMessage()
                : JsonErrors.plain(m.getOriginalMessage());
        return where(m) + what;
    }

    /** "layers[1].units: ", or "" at the top level. */
    private static String where(JsonMappingException m) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference r : m.getPath()) {
            if (r.getFieldName() != null) {
                path.append(path.length() == 0 ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                path.append('[').append(r.getIndex()).append(']');
            }
        }
        return path.length() == 0 ? "" : path + ": ";
    }

    private static <E extends Throwable> E find(Throwable t, Class<E> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    /** The registered type names of a polymorphic base type, sorted. */
    private static List<String> typeNames(JavaType base) {
        DeserializationConfig config = MAPPER.getDeserializationConfig();
        AnnotatedClass ac = AnnotatedClassResolver.resolveWithoutSuperTypes(config, base.getRawClass());
        List<String> names = new ArrayList<>();
        for (NamedType t : MAPPER.getSubtypeResolver().collectAndResolveSubtypesByTypeId(config, ac)) {
            if (t.hasName()) {
                names.add(t.getName());
            }
        }
        Collections.sort(names);
        return names;
    }

    /** "LearningRateSchedule" -> "learning rate schedule". */
    /** "model config" for ModelConfig, "fit config" for Fit: what an error calls the object it reads. */
    private static String configName(Class<?> type) {
        String w = words(type.getSimpleName());
        return w.endsWith(" config") ? w : w + " config";
    }

    private static String words(String camel) {
        return camel.replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(Locale.ROOT);
    }
}
