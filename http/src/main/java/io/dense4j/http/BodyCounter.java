package io.dense4j.http;

import io.javalin.http.Context;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

import java.util.function.LongConsumer;

/**
 * Lets a route count a request's body as Jetty reads it off the connection, whoever reads it: the route itself, or
 * Jetty's multipart parser, which writes every part to a file before the route sees any (a data set upload's storage
 * quota must count those bytes as they arrive, not once they are staged). The counter may refuse by throwing: the
 * read then fails (the parser, or the route's stream, sees a failed body) and {@link #refusal} says why. Installed
 * innermost, after the eager body handler, so every byte passes here once.
 */
final class BodyCounter {
    private static final String ATTRIBUTE = "dense4j.body-counter";

    private volatile LongConsumer counter;
    private volatile RuntimeException refusal;
    private volatile long received; // written by one reader at a time, as the body is read
    private Content.Chunk failed; // read by one reader at a time, as the body is

    /** The handler that gives every request with a body its counter. */
    static Handler.Wrapper handler() {
        return new Handler.Wrapper() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                if (request.getLength() <= 0 && !request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING)) {
                    return super.handle(request, response, callback);
                }
                BodyCounter c = new BodyCounter();
                request.setAttribute(ATTRIBUTE, c);
                return super.handle(new Request.Wrapper(request) {
                    @Override
                    public Content.Chunk read() {
                        return c.counted(super.read());
                    }
                }, response, callback);
            }
        };
    }

    /** Counts the rest of this request's body with {@code counter} (no-op for a request without a body). */
    static void countWith(Context ctx, LongConsumer counter) {
        if (ctx.req().getAttribute(ATTRIBUTE) instanceof BodyCounter c) {
            c.counter = counter;
        }
    }

    /** Bytes of this request's body read off the connection so far (0 for a request without a body). */
    static long received(Context ctx) {
        return ctx.req().getAttribute(ATTRIBUTE) instanceof BodyCounter c ? c.received : 0;
    }

    /** The counter's refusal that failed this request's body, or null. */
    static RuntimeException refusal(Context ctx) {
        return ctx.req().getAttribute(ATTRIBUTE) instanceof BodyCounter c ? c.refusal : null;
    }

    private Content.Chunk counted(Content.Chunk chunk) {
        if (failed != null) {
            if (chunk != null) {
                chunk.release();
            }
            return failed;
        }
        LongConsumer count = counter;
        if (chunk != null && !Content.Chunk.isFailure(chunk)) {
            received += chunk.remaining();
        }
        if (chunk == null || count == null || Content.Chunk.isFailure(chunk) || !chunk.hasRemaining()) {
            return chunk;
        }
        try {
            count.accept(chunk.remaining());
            return chunk;
        } catch (RuntimeException e) {
            chunk.release();
            refusal = e;
            failed = Content.Chunk.from(e, true);
            return failed;
        }
    }
}
