package io.dense4j.http;

import io.javalin.config.RouterConfig;
import io.javalin.http.HandlerType;
import io.javalin.router.matcher.PathParser;
import org.eclipse.jetty.server.Request;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The largest body the route of a request can accept, known from the request's headers alone: its method and
 * path, matched as the router matches them (Javalin's own path parser, the router's settings, the raw path the
 * router sees). A request that declares a longer body can only be refused (413; 401/403 first, by the route's own
 * checks, so that limits are not shown to a client without credentials; 404/405 where no route takes it), so it
 * goes to its handler at once instead of having its body received first: else a client that declares a large
 * body and sends a few bytes of it holds its connection until the body deadline and gets 408.
 */
final class BodyLimits {
    /** Returned by {@link #largestBody} for a method and path no route takes. */
    static final long NO_ROUTE = -1;

    private record Entry(HandlerType method, PathParser path, long maxBodyBytes) {
    }

    private final List<Entry> entries = new ArrayList<>();
    /** The smallest limit of a route that reads a body: a declared length within it needs no look-up. */
    private final long smallestLimit;

    /** @param router the router's settings, final (trailing slashes, case, multiple slashes) */
    BodyLimits(List<Route> routes, RouterConfig router) {
        long smallest = Long.MAX_VALUE;
        Set<String> paths = new LinkedHashSet<>();
        for (Route r : routes) {
            PathParser parser = new PathParser(r.path(), router);
            entries.add(new Entry(r.method(), parser, r.maxBodyBytes()));
            if (r.method() == HandlerType.GET) {
                entries.add(new Entry(HandlerType.HEAD, parser, 0)); // HEAD runs the GET route
            }
            if (paths.add(r.path())) {
                entries.add(new Entry(HandlerType.OPTIONS, parser, 0)); // every path of the table answers OPTIONS
            }
            if (r.maxBodyBytes() > 0) {
                smallest = Math.min(smallest, r.maxBodyBytes());
            }
        }
        this.smallestLimit = smallest == Long.MAX_VALUE ? 0 : smallest;
    }

    /**
     * The most any route taking {@code method} on {@code path} (raw, as in the request line) reads: 0 when such a
     * route reads no body, {@link #NO_ROUTE} when no route takes it.
     */
    long largestBody(String method, String path) {
        long largest = NO_ROUTE;
        for (Entry e : entries) {
            if (e.method.name().equals(method) && largest < e.maxBodyBytes && e.path.matches(path)) {
                largest = e.maxBodyBytes;
            }
        }
        return largest;
    }

    /**
     * True when the request declares a body longer than its route can accept, or one over the smallest limit of
     * any route for a route that reads none or a path no route takes: it is answered on its headers. A shorter
     * one is received as usual (without a look-up: most requests), and a body without a declared length
     * (chunked) is counted as it arrives, by the route's own reads.
     */
    boolean declaredTooLarge(Request request) {
        long declared = request.getLength();
        return declared > smallestLimit
                && declared > largestBody(request.getMethod(), request.getHttpURI().getPath());
    }
}
