package io.dense4j.http;

import io.javalin.http.Handler;
import io.javalin.http.HandlerType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One row of the server's route table: method, path template, the role a caller needs, the largest body the
 * route reads, whether it streams that body in while it handles it (an upload: see {@link UploadSlots}), and the
 * handler.
 */
record Route(HandlerType method, String path, Role role, long maxBodyBytes, boolean upload, Handler handler) {

    static Route get(String path, Role role, Handler handler) {
        return new Route(HandlerType.GET, path, role, 0, false, handler);
    }

    static Route post(String path, Role role, long maxBodyBytes, Handler handler) {
        return new Route(HandlerType.POST, path, role, maxBodyBytes, false, handler);
    }

    /** A POST whose body of up to {@code maxBodyBytes} the handler streams in (to disk) as it arrives. */
    static Route upload(String path, Role role, long maxBodyBytes, Handler handler) {
        return new Route(HandlerType.POST, path, role, maxBodyBytes, true, handler);
    }

    static Route put(String path, Role role, long maxBodyBytes, Handler handler) {
        return new Route(HandlerType.PUT, path, role, maxBodyBytes, false, handler);
    }

    static Route delete(String path, Role role, Handler handler) {
        return new Route(HandlerType.DELETE, path, role, 0, false, handler);
    }

    /**
     * OPTIONS on a path of the table: 204 with the path's methods in {@code Allow} (RFC 9110 9.3.7). Public, whatever
     * the path's own roles: it reveals only which methods exist, as a 405 does.
     */
    static Route options(String path, String allow) {
        return new Route(HandlerType.OPTIONS, path, Role.PUBLIC, 0, false, ctx -> {
            ctx.res().setContentType(null); // no content, so no type (Javalin sets its default on every response)
            ctx.header("Allow", allow).status(204);
        });
    }

    /**
     * The {@code Allow} value of every path of a route table, keyed by the path's first spelling in the table (paths
     * that differ only in their parameters' names, such as {@code /v1/models/{model}} and {@code
     * /v1/models/{modelverb}}, are one path): its methods, HEAD wherever GET is (the server runs GET for it) and
     * OPTIONS.
     */
    private static final List<HandlerType> ALLOW_ORDER = List.of(HandlerType.GET, HandlerType.HEAD, HandlerType.POST,
            HandlerType.PUT, HandlerType.DELETE, HandlerType.OPTIONS);

    static Map<String, String> allowedMethods(List<Route> routes) {
        Map<String, String> spelling = new LinkedHashMap<>();
        Map<String, TreeSet<Integer>> methods = new LinkedHashMap<>();
        for (Route r : routes) {
            String shape = shape(r.path());
            spelling.putIfAbsent(shape, r.path());
            TreeSet<Integer> m = methods.computeIfAbsent(shape, k -> new TreeSet<>());
            m.add(ALLOW_ORDER.indexOf(r.method()));
            if (r.method().equals(HandlerType.GET)) {
                m.add(ALLOW_ORDER.indexOf(HandlerType.HEAD));
            }
            m.add(ALLOW_ORDER.indexOf(HandlerType.OPTIONS));
        }
        Map<String, String> out = new LinkedHashMap<>();
        methods.forEach((shape, m) -> out.put(spelling.get(shape),
                String.join(", ", m.stream().map(i -> ALLOW_ORDER.get(i).name()).toList())));
        return out;
    }

    /**
     * The {@code Allow} value of the server as a whole ({@code OPTIONS *}, RFC 9110 9.3.7): every method of the table,
     * HEAD (GET is there) and OPTIONS, in the order of {@link #allowedMethods}.
     */
    static String serverMethods(List<Route> routes) {
        TreeSet<Integer> m = new TreeSet<>();
        m.add(ALLOW_ORDER.indexOf(HandlerType.OPTIONS));
        for (Route r : routes) {
            m.add(ALLOW_ORDER.indexOf(r.method()));
            if (r.method().equals(HandlerType.GET)) {
                m.add(ALLOW_ORDER.indexOf(HandlerType.HEAD));
            }
        }
        return String.join(", ", m.stream().map(i -> ALLOW_ORDER.get(i).name()).toList());
    }

    /**
     * The table's path that {@code path} (a request's) would match, ignoring the method: each {@code {param}} matches
     * one non-empty segment, a trailing slash is ignored (as the router does); null when none matches.
     */
    static String matching(Iterable<String> tablePaths, String path) {
        String[] asked = path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1).split("/", -1)
                : path.split("/", -1);
        for (String p : tablePaths) {
            String[] t = p.split("/", -1);
            if (t.length != asked.length) {
                continue;
            }
            boolean same = true;
            for (int i = 0; i < t.length && same; i++) {
                same = t[i].startsWith("{") ? !asked[i].isEmpty() : t[i].equals(asked[i]);
            }
            if (same) {
                return p;
            }
        }
        return null;
    }

    private static String shape(String path) {
        return path.replaceAll("\\{[^}/]*}", "{}");
    }

    /** "GET /v2/models/{model}", as the OpenAPI document and the logs name it. */
    String key() {
        return method.name() + " " + path;
    }
}
