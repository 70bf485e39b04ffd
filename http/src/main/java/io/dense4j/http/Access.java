package io.dense4j.http;

import io.dense4j.service.federated.FederatedService;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletRequest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The access check of a route's {@link Role}, run by the route's own handler before it reads anything.
 *
 * <p>Bearer tokens are compared on the header value exactly as received (Jetty's per-connection header
 * cache is made case-sensitive, see {@link ServerConnectors}), as bytes, through SHA-256 digests so the
 * comparison takes the same time whatever the length or the first differing byte. The scheme word
 * {@code Bearer} is case-insensitive (RFC 9110), the token is not. More than one {@code Authorization}
 * header is refused.
 */
final class Access {
    /** Request attribute holding the verified client certificate chain (servlet spec). */
    static final String CLIENT_CERTS = "jakarta.servlet.request.X509Certificate";

    private final ServerConfig cfg;
    private final ServerState state;
    /** The federated tasks whose client tokens pass {@link Role#FEDERATED}, or null (no state store). */
    private final FederatedService federated;
    private final byte[] inferenceDigest;
    private final byte[] adminDigest;
    /** Training token digests by token name. */
    private final Map<String, byte[]> trainingDigests = new LinkedHashMap<>();

    Access(ServerConfig cfg, ServerState state, FederatedService federated) {
        this.cfg = cfg;
        this.state = state;
        this.federated = federated;
        this.inferenceDigest = cfg.inferenceToken() == null ? null : sha256(cfg.inferenceToken().getBytes(StandardCharsets.UTF_8));
        this.adminDigest = cfg.adminToken() == null ? null : sha256(cfg.adminToken().getBytes(StandardCharsets.UTF_8));
        if (cfg.training() != null) {
            cfg.training().tokens().forEach((name, token) -> trainingDigests.put(name,
                    sha256(token.getBytes(StandardCharsets.UTF_8))));
        }
    }

    /** Who made a request, for the routes that record an owner (set by {@link #require} for those roles). */
    record Caller(String name, boolean admin) {
        private static final String ATTRIBUTE = "dense4j.caller";

        static Caller of(Context ctx) {
            Caller c = ctx.attribute(ATTRIBUTE);
            if (c == null) {
                throw new IllegalStateException("no caller: the route does not require the training or admin role");
            }
            return c;
        }

        /** True when this caller may see or change what {@code owner} created. */
        boolean mayAccess(String owner) {
            return admin || name.equals(owner);
        }
    }

    /** The federated client a request speaks for (set by {@link #require} for {@link Role#FEDERATED} routes). */
    record FederatedCaller(FederatedService.Identity identity, byte[] tokenDigest) {
        private static final String ATTRIBUTE = "dense4j.federated.caller";

        static FederatedCaller of(Context ctx) {
            FederatedCaller c = ctx.attribute(ATTRIBUTE);
            if (c == null) {
                throw new IllegalStateException("no federated caller: the route does not require the federated role");
            }
            return c;
        }
    }

    /** True when the training API is on: the training service runs and some credential may use it. */
    boolean trainingEnabled() {
        return cfg.training() != null && (!trainingDigests.isEmpty() || managementEnabled());
    }

    /** True when the management API is on: an admin token or an admin client CA is configured. */
    boolean managementEnabled() {
        return adminDigest != null || cfg.tls().adminClientAuth();
    }

    /** The routes the health port answers: the liveness and readiness probes. */
    static final String HEALTH_PATHS = "/v2/health/";

    /** Throws 401/403/404/503 unless the request may use a route of {@code role}. */
    void require(Role role, Context ctx) {
        // the health port answers the probes only: its few threads must always be free for them, and a large
        // response (/metrics, /openapi.json) written to clients that read slowly held them all
        if (ServerConnectors.isHealthConnector(ctx.req()) && (role != Role.PUBLIC || !ctx.path().startsWith(HEALTH_PATHS))) {
            throw ApiException.notFound("no such endpoint on the health port: " + ctx.method().name() + " " + ctx.path()
                    + " (it answers " + HEALTH_PATHS + "live and " + HEALTH_PATHS + "ready)");
        }
        if (!role.alwaysAnswered() && !state.accepting()) {
            throw ApiException.unavailable("the server is shutting down");
        }
        switch (role) {
            case PUBLIC -> { }
            case INFERENCE, METRICS -> {
                if (inferenceDigest != null && !adminCredentials(ctx, false)) {
                    requireToken(ctx, inferenceDigest);
                }
            }
            case TRAINING -> {
                if (!trainingEnabled()) {
                    throw new ApiException(403, cfg.training() == null
                            ? "the training service is off: start the server with --state and a training token"
                            : "the training API is disabled: start the server with a training token or an admin token");
                }
                if (adminCredentials(ctx, false)) {
                    ctx.attribute(Caller.ATTRIBUTE, new Caller(ServerConfig.TrainingConfig.ADMIN_NAME, true));
                } else {
                    if (trainingDigests.isEmpty()) {
                        adminCredentials(ctx, true); // only admins may: say what is missing
                    }
                    ctx.attribute(Caller.ATTRIBUTE, new Caller(trainingTokenName(ctx), false));
                }
            }
            case FEDERATED -> {
                if (federated == null) {
                    throw new ApiException(403, "federated learning is off: its tasks and client tokens live in the "
                            + "state store, so start the server with --state");
                }
                byte[] digest = sha256(bearer(ctx, true));
                FederatedService.Identity id = federated.authenticate(digest).orElseThrow(() ->
                        new ApiException(403, "the bearer token is not a federated client token"));
                ctx.attribute(FederatedCaller.ATTRIBUTE, new FederatedCaller(id, digest));
            }
            case ADMIN -> {
                if (!managementEnabled()) {
                    throw new ApiException(403, "the management API is disabled: start the server with an admin token "
                            + "or an admin client CA");
                }
                adminCredentials(ctx, true);
                ctx.attribute(Caller.ATTRIBUTE, new Caller(ServerConfig.TrainingConfig.ADMIN_NAME, true));
            }
        }
    }

    /** The name of the training token sent (401 without one, 403 when it matches none). Every digest is compared. */
    private String trainingTokenName(Context ctx) {
        byte[] given = sha256(bearer(ctx, true));
        String match = null;
        for (Map.Entry<String, byte[]> e : trainingDigests.entrySet()) {
            if (MessageDigest.isEqual(given, e.getValue()) && match == null) {
                match = e.getKey();
            }
        }
        if (match == null) {
            throw new ApiException(403, "the bearer token is not valid for this endpoint");
        }
        return match;
    }

    /**
     * Checks the admin factors that are configured (client certificate, token). With {@code enforce} a missing
     * or wrong factor throws; without, the answer says whether the caller holds every admin factor.
     */
    private boolean adminCredentials(Context ctx, boolean enforce) {
        if (!managementEnabled()) {
            return false;
        }
        if (cfg.tls().adminClientAuth() && clientCertificate(ctx.req()) == null) {
            if (enforce) {
                throw new ApiException(403, "the management API needs a client certificate issued by the admin CA");
            }
            return false;
        }
        if (adminDigest == null) {
            return true;
        }
        if (enforce) {
            requireToken(ctx, adminDigest);
            return true;
        }
        byte[] given = bearer(ctx, false);
        return given != null && MessageDigest.isEqual(sha256(given), adminDigest);
    }

    /** 401 without a bearer token, 403 with a wrong one. */
    private static void requireToken(Context ctx, byte[] expectedDigest) {
        byte[] given = bearer(ctx, true);
        if (!MessageDigest.isEqual(sha256(given), expectedDigest)) {
            throw new ApiException(403, "the bearer token is not valid for this endpoint");
        }
    }

    /** The token bytes of the one {@code Authorization: Bearer} header, or null (with {@code enforce}: 401). */
    private static byte[] bearer(Context ctx, boolean enforce) {
        List<String> values = Collections.list(ctx.req().getHeaders("Authorization"));
        String auth = values.size() == 1 ? values.get(0) : null;
        if (auth == null || auth.length() <= 7 || !auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            if (!enforce) {
                return null;
            }
            ctx.header("WWW-Authenticate", "Bearer");
            throw new ApiException(401, values.size() > 1 ? "send exactly one Authorization header"
                    : "missing bearer token: send 'Authorization: Bearer <token>'");
        }
        // header values arrive as ISO-8859-1 characters, one per byte: this is the raw byte sequence
        return auth.substring(7).getBytes(StandardCharsets.ISO_8859_1);
    }

    /** The verified client certificate of a TLS request, or null. */
    static X509Certificate clientCertificate(HttpServletRequest req) {
        Object chain = req.getAttribute(CLIENT_CERTS);
        return chain instanceof X509Certificate[] certs && certs.length > 0 ? certs[0] : null;
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
