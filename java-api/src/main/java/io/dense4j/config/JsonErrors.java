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
    private static final Pattern COERCE = Pattern.compile("Cannot coerce [\\w-]+ value \\(([^)]*)\\) to `(\\w+)`");
    private static final Pattern NON_NUMERIC = Pattern.compile("Non-standard token '([^']*)'");
    private static final Pattern TICKED = Pattern.compile("`[\\w.$]+(?:\\(\\))?`");

    private JsonErrors() {}

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
            return "expected " + (m.group(2).matches("int|long|short|byte|Integer|Long") ? "an integer" : "a "
                    + m.group(2)) + ", got " + m.group(1);
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
