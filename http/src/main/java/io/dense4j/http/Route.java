package io.dense4j.http;

import io.javalin.http.Handler;
import io.javalin.http.HandlerType;

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

    /** "GET /v2/models/{model}", as the OpenAPI document and the logs name it. */
    String key() {
        return method.name() + " " + path;
    }
}
