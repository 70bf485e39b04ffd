package io.dense4j.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code predict --rows}: a range or one row, and a message that says what is wrong with any other. */
class PredictRowsTest {

    @Test
    void rangesAndSingleRows() {
        assertArrayEquals(new int[] {0, 9}, PredictCommand.parseRange("0-9", 100));
        assertArrayEquals(new int[] {17, 17}, PredictCommand.parseRange("17", 100));
        assertArrayEquals(new int[] {99, 99}, PredictCommand.parseRange("99", 100));
    }

    @Test
    void eachBadRangeIsNamedForWhatIsWrong() {
        assertTrue(message("5-2", 100).contains("runs backwards") && message("5-2", 100).contains("2-5"));
        assertTrue(message("5-100", 100).contains("outside the data's rows 0-99"));
        assertTrue(message("1-2-3", 100).contains("must look like 0-9 or 17"));
        assertTrue(message("-3", 100).contains("must look like 0-9 or 17"));
        assertTrue(message("3-", 100).contains("must look like 0-9 or 17"));
        assertTrue(message("a", 100).contains("must look like 0-9 or 17"));
    }

    private static String message(String spec, int size) {
        return assertThrows(IllegalArgumentException.class, () -> PredictCommand.parseRange(spec, size)).getMessage();
    }
}
