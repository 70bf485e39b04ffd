package io.dense4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Client-controlled values reach the access log as single logfmt tokens, whatever bytes they hold. */
class AccessLogTest {
    @Test
    void valuesCannotEndALineBreakTheQuotingOrCarryTerminalEscapes() {
        assertEquals("/v2/models/iris/infer", AccessLog.clean("/v2/models/iris/infer"), "plain values stay as they are");
        assertEquals("/v2/a%2Fb", AccessLog.clean("/v2/a%2Fb"), "percent-encoding in a path is kept as sent");
        assertEquals("m%0Atime=x", AccessLog.clean("m\ntime=x"), "a line break");
        assertEquals("m%0D", AccessLog.clean("m\r"));
        assertEquals("a%22b%5Cc", AccessLog.clean("a\"b\\c"), "quote and backslash");
        assertEquals("a%20b", AccessLog.clean("a b"), "a space would split an unquoted token");
        assertEquals("%C2%85%C2%9B%1B", AccessLog.clean("\u0085\u009b\u001b"), "C1 controls and ESC");
        assertEquals("caf%C3%A9", AccessLog.clean("café"), "other non-ASCII as its UTF-8 bytes");
        assertEquals("-", AccessLog.clean(null));
    }
}
