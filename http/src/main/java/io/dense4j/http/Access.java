package io.dense4j.http;

import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletRequest;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.List;

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
    private final byte[] inferenceDigest;
    private final byte[] adminDigest;

    Access(ServerConfig cfg, ServerState state) {
        this.cfg = cfg;
        this.state = state;
        this.inferenceDigest = cfg.inferenceToken() == null ? null : sha256(cfg.inferenceToken().getBytes(StandardCharsets.UTF_8));
        this.adminDigest = cfg.adminToken() == null ? null : sha256(cfg.adminToken().getBytes(StandardCharsets.UTF_8));
    }

    /** True when the management API is on: an admin token or an admin client CA is configured. */
    boolean managementEnabled() {
        return adminDigest != null || cfg.tls().adminClientAuth();
    }

    /** Throws 401/403/404/503 unless the request may use a route of {@code role}. */
    void require(Role role, Context ctx) {
        if (role != Role.PUBLIC && ServerConnectors.isHealthConnector(ctx.req())) {
            throw ApiException.notFound("no such endpoint on the health port: " + ctx.method().name() + " " + ctx.path());
        }
        if (role != Role.PUBLIC && !state.accepting()) {
            throw ApiException.unavailable("the server is shutting down");
        }
        switch (role) {
            case PUBLIC -> { }
            case INFERENCE -> {
                if (inferenceDigest != null && !adminCredentials(ctx, false)) {
                    requireToken(ctx, inferenceDigest);
                }
            }
            case ADMIN -> {
                if (!managementEnabled()) {
                    throw new ApiException(403, "the management API is disabled: start the server with an admin token "
                            + "or an admin client CA");
                }
                adminCredentials(ctx, true);
            }
        }
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
