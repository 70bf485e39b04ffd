package io.dense4j.http;

import io.javalin.http.Context;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.TimeoutException;

/** Reads request bodies with a size limit, whether or not the client sent Content-Length. */
final class Bodies {
    private Bodies() {
    }

    /** 413 for a body over the limit, as JSON like every error. */
    static ApiException tooLarge(long limit) {
        return new ApiException(413, "request body too large: the limit is " + limit + " bytes");
    }

    /** Bodies up to this many declared bytes are read into one array of that size (a batch-1 request is ~7 KB). */
    private static final int SMALL_BODY = 64 * 1024;

    /** Request attribute holding the server's {@link BodyBudget} (set by the route wrapper). */
    static final String BUDGET_ATTRIBUTE = "dense4j.budget";

    /** The whole body, at most {@code limit} bytes, within the server's memory budget for bodies. */
    static byte[] read(Context ctx, long limit) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > limit) {
            throw tooLarge(limit);
        }
        if (ctx.attribute(BUDGET_ATTRIBUTE) instanceof BodyBudget budget) {
            budget.reserve(ctx, declared >= 0 ? declared : limit);
        }
        try (InputStream in = ctx.req().getInputStream()) {
            byte[] body;
            if (declared >= 0 && declared <= SMALL_BODY) {
                // a small declared length in one array, then no byte more (a longer body cannot be, HTTP framing;
                // checked anyway): one allocation instead of readNBytes's chunks and copies. Larger bodies grow
                // with the bytes that actually arrive, never with what the header claims.
                body = new byte[(int) declared];
                int got = in.readNBytes(body, 0, body.length);
                if (got < body.length) {
                    body = java.util.Arrays.copyOf(body, got);
                } else if (in.read() >= 0) {
                    throw tooLarge(limit);
                }
            } else {
                body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
            }
            if (body.length > limit) {
                throw tooLarge(limit);
            }
            bodyReceived(ctx);
            return body;
        } catch (IOException e) {
            throw unreadable(ctx, e);
        }
    }

    /**
     * The answer to a body that could not be read: the guard's refusal if it cut the body off (408 past the body
     * deadline, 503 when shed), 408 if the connection's idle timeout did, else 400.
     */
    private static ApiException unreadable(Context ctx, IOException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectionGuard.Refusal r) {
                return r.answer(ctx);
            }
            if (t instanceof TimeoutException) {
                return new ApiException(408, "the request body stopped arriving (nothing received within the idle timeout)");
            }
            if (t instanceof org.eclipse.jetty.http.HttpException h && h.getCode() == 400) {
                // the body's framing is broken (a chunk size that is no number or overflows, a chunk without its CRLF)
                return ApiException.badRequest(framing(h.getReason()));
            }
        }
        return ApiException.badRequest("could not read the request body (the client stopped sending, or sent it "
                + "too slowly)");
    }

    private static String framing(String reason) {
        String r = reason == null ? "" : reason.replaceFirst("^\\d{3}: ", "").strip();
        // Jetty says "Early EOF" for a body cut short and for chunked framing it cannot read alike
        return r.isEmpty() || r.equalsIgnoreCase("bad request") || r.equalsIgnoreCase("early eof")
                ? "the request body ended early, or its chunked framing is malformed (each chunk is its size in hexadecimal, "
                        + "CRLF, that many bytes, CRLF; a chunk of size 0 ends the body)"
                : "the request body is malformed: " + r.toLowerCase(java.util.Locale.ROOT);
    }

    /** The body as a stream that fails with 413 past {@code limit} bytes (for uploads). */
    static InputStream stream(Context ctx, long limit) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > limit) {
            throw tooLarge(limit);
        }
        try {
            InputStream in = new Limited(ctx.req().getInputStream(), limit, () -> bodyReceived(ctx));
            bodyStreaming(ctx);
            return in;
        } catch (IOException e) {
            throw unreadable(ctx, e);
        }
    }

    /**
     * The handler streams the body in from now on (an upload): instead of the body deadline of
     * {@link ConnectionGuard}, the body must keep its minimum upload rate.
     */
    static void bodyStreaming(Context ctx) {
        if (ctx.req().getAttribute(ConnectionGuard.BODY_STREAMING_ATTRIBUTE) instanceof Runnable r) {
            r.run();
        }
    }

    /** Ends the body deadline of {@link ConnectionGuard} for this request: the handler has the whole body. */
    static void bodyReceived(Context ctx) {
        if (ctx.req().getAttribute(ConnectionGuard.BODY_READ_ATTRIBUTE) instanceof Runnable r) {
            r.run();
        }
    }

    private static final class Limited extends FilterInputStream {
        private final long limit;
        private final Runnable ended;
        private long count;

        Limited(InputStream in, long limit, Runnable ended) {
            super(in);
            this.limit = limit;
            this.ended = ended;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0 && ++count > limit) {
                throw tooLarge(limit);
            }
            if (b < 0) {
                ended.run();
            }
            return b;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            if (n > 0 && (count += n) > limit) {
                throw tooLarge(limit);
            }
            if (n < 0) {
                ended.run();
            }
            return n;
        }
    }
}
