package io.dense4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.optim.Optimizer;
import io.dense4j.tune.ConfigException;
import io.dense4j.tune.Json;
import org.junit.jupiter.api.Test;

/** Malformed JSON is reported in the caller's words, never with Jackson's class or setting names. */
class JsonErrorsTest {
    private static void plainWords(String message) {
        for (String internal : new String[] {"`", "com.fasterxml", "Feature", "StreamReadConstraints", "CoercionConfig"}) {
            assertTrue(!message.contains(internal), "'" + internal + "' in: " + message);
        }
    }

    private static String parseError(String json) {
        ConfigException e = assertThrows(ConfigException.class, () -> Json.parse(json));
        plainWords(e.getMessage());
        return e.getMessage();
    }

    @Test
    void parserErrorsSayWhatIsWrong() {
        assertTrue(parseError("{} {}").contains("trailing content after the JSON value"), parseError("{} {}"));
        String deep = parseError("[".repeat(5000));
        assertTrue(deep.matches(".*JSON nested \\d+ levels deep; at most \\d+.*"), deep);
        String digits = parseError("[" + "1".repeat(5000) + "]");
        assertTrue(digits.contains("a number of 5000 characters; at most"), digits);
        assertTrue(parseError("{\"x\": NaN}").contains("NaN is not a JSON number"), parseError("{\"x\": NaN}"));
    }

    @Test
    void bindingErrorsSayWhatIsWrong() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson(
                "{\"type\":\"sgd\",\"learning_rate\":0.1,\"nesterov\":\"maybe\"}", Optimizer.class));
        plainWords(e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> io.dense4j.model.ModelConfig.fromJson(
                "{\"class_name\":\"Sequential\",\"config_version\":2,\"layers\":[{\"type\":\"dense\",\"units\":1.5}]}"));
        plainWords(e.getMessage());
        assertTrue(e.getMessage().contains("expected an integer, got 1.5"), e.getMessage());
    }

    /** Each found leaking Jackson's words through the CLI or the job API (a helper's audit). */
    @Test
    void everyBindingErrorIsInPlainWords() {
        String[][] cases = {
            {"{\"epochs\": 1, \"epoch\": 5}", "unknown field \"epoch\" (known: "},
            {"{\"epochs\": \"5\"}", "expected an integer, got \"5\""},
            {"{\"epochs\": true}", "expected an integer, got a boolean"},
            {"{\"seed\": 1e400}", "expected an integer"},
        };
        for (String[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Configs.fromJson(c[0], io.dense4j.train.Fit.class), c[0]);
            plainWords(e.getMessage());
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().startsWith("invalid fit config: "),
                    c[0] + " -> " + e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> io.dense4j.model.ModelConfig.fromJson("{\"layers\": []}"));
        plainWords(e.getMessage());
        assertTrue(e.getMessage().contains("missing required field 'class_name'")
                && e.getMessage().startsWith("invalid model config: "), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson(
                "{\"type\":\"adam\",\"learning_rate\":\"0.01\"}", Optimizer.class));
        plainWords(e.getMessage());
        assertTrue(e.getMessage().contains("\"0.01\""), e.getMessage());
        assertTrue(!e.getMessage().contains("Creator") && !e.getMessage().contains("constructor"), e.getMessage());
    }

    @Test
    void unknownMessagesKeepTheirFirstLineWithoutTickedNames() {
        assertEquals("Unexpected character ('x' (code 120)): expected a value",
                JsonErrors.plain("Unexpected character ('x' (code 120)): expected a value\n at [Source: x]"));
        assertEquals("Cannot deserialize value of type from String \"q\"",
                JsonErrors.plain("Cannot deserialize value of type `java.lang.Integer` from String \"q\""));
    }
}
