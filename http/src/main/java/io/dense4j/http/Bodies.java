package io.dense4j.http;

import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletRequest;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.TimeUnit;
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
        }
        return ApiException.badRequest("could not read the request body (the client stopped sending, or sent it "
                + "too slowly)");
    }

    /** The most of a refused request's body read and dropped so that its client gets the answer. */
    static final long DISCARD_MAX_BYTES = 8L << 20;
    private static final long DISCARD_MAX_NANOS = TimeUnit.SECONDS.toNanos(10);

    /**
     * Reads and drops what is left of the body of a request answered with an error, up to
     * {@link #DISCARD_MAX_BYTES} and 10 s. Closed with body bytes still unread, the connection is reset by the
     * kernel, and a client that sends its whole body before it reads (most do) loses the answer to a broken pipe:
     * the 413 of a body over the limit, the 401 of an upload without credentials. (Tomcat swallows 2 MiB the same
     * way, nginx lingers.) A body declared larger than that is not taken in: the connection closes at once. A client
     * that sent {@code Expect: 100-continue} waits for the answer before it sends, so nothing is read from it.
     * The connection guard's deadlines and minimum rate apply to these reads as to any.
     */
    static void discardUnread(Context ctx) {
        HttpServletRequest req = ctx.req();
        long declared = req.getContentLengthLong();
        boolean chunked = req.getHeader("Transfer-Encoding") != null;
        if ((declared <= 0 && !chunked) || declared > DISCARD_MAX_BYTES || req.getHeader("Expect") != null) {
            return;
        }
        long end = System.nanoTime() + DISCARD_MAX_NANOS;
        byte[] sink = new byte[8192];
        try {
            InputStream in = req.getInputStream();
            for (long total = 0; total <= DISCARD_MAX_BYTES && System.nanoTime() < end; ) {
                int n = in.read(sink);
                if (n < 0) {
                    return;
                }
                total += n;
            }
        } catch (IOException | RuntimeException e) {
            // the body was cut off, failed by the guard, or taken as a reader: the connection ends after the answer
        }
    }

    /** The body as a stream that fails with 413 past {@code limit} bytes (for uploads). */
    static InputStream stream(Context ctx, long limit) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > limit) {
            throw tooLarge(limit);
        }
        try {
            InputStream in = new Limited(ctx.req().getInputStream(), limit);
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
        private long count;

        Limited(InputStream in, long limit) {
            super(in);
            this.limit = limit;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0 && ++count > limit) {
                throw tooLarge(limit);
            }
            return b;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            if (n > 0 && (count += n) > limit) {
                throw tooLarge(limit);
            }
            return n;
        }
    }
}
