package io.dense4j.http;

import io.javalin.http.Handler;
import io.javalin.http.HandlerType;

/**
 * One row of the server's route table: method, path template, the role a caller needs, the largest body the
 * route reads, and the handler.
 */
record Route(HandlerType method, String path, Role role, long maxBodyBytes, Handler handler) {

    static Route get(String path, Role role, Handler handler) {
        return new Route(HandlerType.GET, path, role, 0, handler);
    }

    static Route post(String path, Role role, long maxBodyBytes, Handler handler) {
        return new Route(HandlerType.POST, path, role, maxBodyBytes, handler);
    }

    static Route put(String path, Role role, long maxBodyBytes, Handler handler) {
        return new Route(HandlerType.PUT, path, role, maxBodyBytes, handler);
    }

    static Route delete(String path, Role role, Handler handler) {
        return new Route(HandlerType.DELETE, path, role, 0, handler);
    }

    /** "GET /v2/models/{model}", as the OpenAPI document and the logs name it. */
    String key() {
        return method.name() + " " + path;
    }
}
