package io.dense4j.http;

import io.javalin.security.RouteRole;

/**
 * Who may call a route. Every route declares its role where it is registered ({@link InferenceServer#routes()}),
 * and the access check runs inside that route's handler, so no spelling of a path can reach a handler under
 * another route's role.
 */
enum Role implements RouteRole {
    /** Probes and the API description: no credentials. */
    PUBLIC,
    /**
     * The Prometheus scrape: the inference token when one is configured (the admin credentials also pass), since it
     * names the models and versions the server holds, which listing them asks that token for. Like the public routes
     * it is cheap, read-only and answered on probation connections and while the server drains (a scraper behind an
     * address that floods, or watching a server stop).
     */
    METRICS,
    /** Inference and metadata: the inference token when one is configured (the admin credentials also pass). */
    INFERENCE,
    /**
     * The training service (data sets, jobs): a training token (whose name becomes the owner of what its holder
     * creates) or the admin credentials; off without the training service or any of those credentials.
     */
    TRAINING,
    /**
     * A federated client: the token the admin was given for one client of one federated task when it was created
     * (stored hashed). It speaks for that client of that task only; no other token passes, the admin's included
     * (an admin creates, inspects and cancels tasks but cannot impersonate a party).
     */
    FEDERATED,
    /** Management: the admin token and/or an admin client certificate; off when neither is configured. */
    ADMIN;

    /** Answered on a client's probation connections and while the server drains, where other routes are refused. */
    boolean alwaysAnswered() {
        return this == PUBLIC || this == METRICS;
    }

    /** The name used in the OpenAPI document's {@code x-dense4j-role}. */
    String documented() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
