package io.dense4j.http;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.javalin.http.Context;

import java.io.IOException;
import java.util.Map;

/** JSON in and out of handlers, with the protocol's error body {@code {"error": "..."}}. */
final class Json {
    /**
     * Accepts NaN and Infinity literals on input, so that such a request gets the precise
     * "NaN at row r, column c" message instead of a generic parse error. A body means one thing only: a key given
     * twice, or anything after the value, is a 400 (read leniently, {@code {"version": 1, "version": 2}} or
     * {@code {...} trailing} would be acted on as whatever the last key or the first value said).
     */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            // numbers parsed from the parser's buffer (FastDoubleParser: correctly rounded, like Double.parseDouble)
            // instead of a String and FloatingDecimal's buffers per number: a batch-1 V2 request has 784 of them
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .build();

    static final String CONTENT_TYPE = "application/json";

    private Json() {
    }

    /** Parses JSON, answering 400 with the parser's reason (never a stack trace) on bad input. */
    static JsonNode parse(byte[] body, int offset, int length) {
        if (length == 0) {
            throw ApiException.badRequest("the request body is empty; a JSON object was expected");
        }
        try {
            JsonNode n = MAPPER.readTree(body, offset, length);
            if (n == null || n.isMissingNode()) {
                throw ApiException.badRequest("the request body is empty; a JSON object was expected");
            }
            return n;
        } catch (JsonParseException e) {
            throw ApiException.badRequest("malformed JSON: " + clean(e.getOriginalMessage())
                    + " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr());
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest("malformed JSON: " + clean(e.getOriginalMessage()));
        } catch (IOException e) {
            throw ApiException.badRequest("unreadable request body");
        }
    }

    /** Jackson's reason in plain words (no "(start marker at [Source: ...])", no Jackson class or setting names). */
    private static String clean(String message) {
        return io.dense4j.config.JsonErrors.plain(message);
    }

    /**
     * Refuses a body that is not an object, or that has a field other than {@code allowed}: a misspelt or unsupported
     * setting is a 400 naming it, never silently ignored. {@code shape} is the body as the error shows it.
     */
    static void onlyFields(JsonNode body, String shape, String... allowed) {
        if (!body.isObject()) {
            throw ApiException.badRequest("the body must be " + shape);
        }
        java.util.List<String> known = java.util.List.of(allowed);
        java.util.Iterator<String> names = body.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!known.contains(name)) {
                throw ApiException.badRequest("unknown field '" + name + "': the body must be " + shape);
            }
        }
    }

    static JsonNode parse(byte[] body) {
        return parse(body, 0, body.length);
    }

    /** Writes {@code value} as the JSON response with {@code status}. */
    static void write(Context ctx, int status, Object value) {
        try {
            ctx.status(status).contentType(CONTENT_TYPE).result(MAPPER.writeValueAsBytes(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode response", e);
        }
    }

    static void ok(Context ctx, Object value) {
        write(ctx, 200, value);
    }

    /** Longest error message sent: a message quoting the caller's value must not send a 10 MB value back. */
    static final int MAX_ERROR_CHARS = 1000;

    /** The one error shape of this server. */
    static void error(Context ctx, int status, String message) {
        write(ctx, status, Map.of("error", message == null ? "error" : bounded(message)));
    }

    private static String bounded(String message) {
        return message.length() <= MAX_ERROR_CHARS ? message
                : message.substring(0, MAX_ERROR_CHARS) + "... (" + message.length() + " characters)";
    }

    /** {@code {"error": message}} as bytes, for answers written below Javalin (Jetty's own errors, refusals). */
    static byte[] errorBody(String message) {
        try {
            return MAPPER.writeValueAsBytes(Map.of("error", message == null || message.isBlank() ? "error" : bounded(message)));
        } catch (JsonProcessingException e) {
            return "{\"error\":\"error\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
    }
}
