package io.dense4j.config;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Jackson's error messages in a user's words: they name Jackson's classes and settings
 * ({@code StreamReadConstraints.getMaxNestingDepth()}, {@code DeserializationFeature.FAIL_ON_TRAILING_TOKENS}),
 * which say how the server is built and nothing the caller can act on.
 */
public final class JsonErrors {
    private static final Pattern NESTING = Pattern.compile("nesting depth \\((\\d+)\\) exceeds the maximum allowed \\((\\d+)");
    private static final Pattern NUMBER = Pattern.compile("Number value length \\((\\d+)\\) exceeds the maximum allowed \\((\\d+)");
    private static final Pattern STRING = Pattern.compile("String value length \\((\\d+)\\) exceeds the maximum (?:allowed )?\\((\\d+)");
    private static final Pattern COERCE = Pattern.compile("Cannot coerce [\\w-]+ value \\(([^)]*)\\) to `(?:[\\w$]+\\.)*(\\w+)`");
    private static final Pattern UNKNOWN_FIELD = Pattern.compile("Unrecognized field \"([^\"]*)\"(?:.*known properties: ?\\[?([^\\]]*))?");
    private static final Pattern MISSING = Pattern.compile("Missing required creator property '([^']*)'");
    private static final Pattern FROM_STRING = Pattern.compile("from String value \\('([^']*)'\\)");
    private static final Pattern WRONG_TYPE = Pattern.compile(
            "Cannot deserialize value of type `(?:[\\w$]+\\.)*(\\w+)(?:<[^`]*>)?` from (\\w+(?: \\w+)?) value");
    private static final Pattern NON_NUMERIC = Pattern.compile("Non-standard token '([^']*)'");
    private static final Pattern TICKED = Pattern.compile("`[\\w.$]+(?:\\(\\))?`");

    private JsonErrors() {}

    /** A Java type as a JSON value's kind. */
    private static String typeWords(String type) {
        return switch (type) {
            case "int", "long", "short", "byte", "Integer", "Long", "Short", "Byte", "BigInteger" -> "an integer";
            case "double", "float", "Double", "Float", "BigDecimal", "Number" -> "a number";
            case "boolean", "Boolean" -> "true or false";
            case "String" -> "a string";
            case "List", "ArrayList", "Collection", "Set" -> "an array";
            case "Map", "LinkedHashMap", "HashMap", "TreeMap" -> "an object";
            default -> type.endsWith("[]") ? "an array" : "an object";
        };
    }

    private static String article(String kind) {
        return (kind.matches("[aeiou].*") ? "an " : "a ") + kind;
    }

    /** {@code message} (a Jackson exception's original message) without Jackson's internals. */
    public static String plain(String message) {
        if (message == null) {
            return "malformed JSON";
        }
        Matcher m;
        if (message.contains("FAIL_ON_TRAILING_TOKENS") || message.startsWith("Trailing token")) {
            return "trailing content after the JSON value";
        }
        if ((m = NESTING.matcher(message)).find()) {
            return "JSON nested " + m.group(1) + " levels deep; at most " + m.group(2);
        }
        if ((m = NUMBER.matcher(message)).find()) {
            return "a number of " + m.group(1) + " characters; at most " + m.group(2);
        }
        if ((m = STRING.matcher(message)).find()) {
            return "a string of " + m.group(1) + " characters; at most " + m.group(2);
        }
        if ((m = COERCE.matcher(message)).find()) {
            return "expected " + typeWords(m.group(2)) + ", got " + m.group(1);
        }
        if ((m = UNKNOWN_FIELD.matcher(message)).find()) {
            return "unknown field \"" + m.group(1) + "\"" + (m.group(2) == null || m.group(2).isBlank() ? ""
                    : " (known: " + m.group(2).replaceAll("\\s+", " ").trim() + ")");
        }
        if ((m = MISSING.matcher(message)).find()) {
            return "missing required field '" + m.group(1) + "'";
        }
        if ((m = WRONG_TYPE.matcher(message)).find()) {
            return "expected " + typeWords(m.group(1)) + ", got " + article(m.group(2).toLowerCase(java.util.Locale.ROOT));
        }
        if ((m = FROM_STRING.matcher(message)).find()) {
            return "expected a number or an object, got the string \"" + m.group(1) + "\"";
        }
        if ((m = NON_NUMERIC.matcher(message)).find()) {
            return m.group(1) + " is not a JSON number";
        }
        // anything else: the first line, without " (but could if ...)" advice or ticked class and setting names
        String s = message;
        int cut = s.indexOf('\n');
        s = cut > 0 ? s.substring(0, cut) : s;
        cut = s.indexOf(" (but could if");
        s = cut > 0 ? s.substring(0, cut) : s;
        cut = s.indexOf(" (start marker");
        s = cut > 0 ? s.substring(0, cut) : s;
        return TICKED.matcher(s).replaceAll("").replaceAll(" +", " ").replace(" )", ")").replace("( ", "(").trim();
    }
}
