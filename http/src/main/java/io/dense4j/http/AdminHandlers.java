package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.registry.RegisterOptions;
import io.javalin.http.Context;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The management API (admin token required): register a version by upload, move, remove and roll
 * back aliases, split traffic, delete versions, verify checksums, read history. Every change is
 * recorded in the registry's history with the actor from the {@code X-Actor} header.
 */
final class AdminHandlers {
    private final ModelManager manager;
    private final ServerConfig cfg;

    AdminHandlers(ModelManager manager, ServerConfig cfg) {
        this.manager = manager;
        this.cfg = cfg;
    }

    private ModelRegistry registry() {
        return manager.registry();
    }

    /** GET /admin/models */
    void list(Context ctx) {
        List<Object> out = new ArrayList<>();
        for (String m : registry().models()) {
            out.add(summary(m));
        }
        Json.ok(ctx, Map.of("models", out));
    }

    private Map<String, Object> summary(String model) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("name", model);
        s.put("versions", registry().versionNumbers(model));
        s.put("aliases", registry().aliases(model));
        try {
            ModelManager.Routing r = manager.routing(model);
            s.put("loaded", List.copyOf(r.loaded().keySet()));
            s.put("unloaded", r.unloaded());
            s.put("traffic", r.split() == null ? null : traffic(r.split()));
            s.put("load_failures", r.failures());
        } catch (ApiException e) {
            s.put("loaded", List.of()); // registered a moment ago; the poller has not seen it yet
        }
        return s;
    }

    /** GET /admin/models/{model}: versions with metadata, aliases, what is loaded. */
    void describe(Context ctx) {
        String model = ctx.pathParam("model");
        Map<String, Object> s = summary(model);
        s.put("versions", registry().versions(model));
        Json.ok(ctx, s);
    }

    /** GET /admin/models/{model}/history */
    void history(Context ctx) {
        Json.ok(ctx, Map.of("history", registry().history(ctx.pathParam("model"))));
    }

    /** GET /admin/models/{model}/verify */
    void verify(Context ctx) {
        var results = manager.verify(ctx.pathParam("model"));
        boolean ok = results.stream().allMatch(r -> r.ok());
        Json.ok(ctx, Map.of("ok", ok, "results", results));
    }

    /**
     * POST /admin/models/{model}/versions, the saved model file as the body. Query parameters:
     * {@code source}, {@code alias} (point this alias at the new version once loaded), and
     * {@code metric=name:value} (repeatable).
     */
    void upload(Context ctx) {
        String model = ctx.pathParam("model");
        ModelRegistry.checkModelName(model);
        String alias = ctx.queryParam("alias");
        if (alias != null) {
            ModelRegistry.checkAliasName(alias);
        }
        RegisterOptions opts = RegisterOptions.defaults().actor(actor(ctx))
                .source(Optional.ofNullable(ctx.queryParam("source")).orElse("http upload"));
        for (String m : ctx.queryParams("metric")) {
            int colon = m.lastIndexOf(':');
            double value;
            try {
                value = Double.parseDouble(m.substring(colon + 1));
            } catch (RuntimeException e) {
                value = Double.NaN;
            }
            if (colon < 1 || !Double.isFinite(value)) {
                throw ApiException.badRequest("bad metric '" + m + "': expected name:number (finite), e.g. accuracy:0.98");
            }
            opts.metric(m.substring(0, colon), value);
        }
        ModelVersionInfo info;
        ReadWatch watched = null;
        try (InputStream body = Bodies.stream(ctx, cfg.maxUploadBytes()); ReadWatch w = new ReadWatch(body)) {
            watched = w;
            info = manager.register(model, w, opts, alias);
        } catch (java.io.IOException e) {
            throw ApiException.badRequest("could not read the upload: " + e.getMessage());
        } catch (io.dense4j.registry.RegistryException e) {
            RuntimeException refusal = BodyCounter.refusal(ctx); // the quota or a size limit cut it: say that
            if (refusal != null) {
                throw refusal;
            }
            if (watched != null && watched.failure != null) {
                // the client's body ended early or broke off: its fault, not the registry's (was a 500 and an ERROR)
                throw ApiException.badRequest("the upload was cut off after " + BodyCounter.received(ctx)
                        + " bytes: nothing was stored; send it again");
            }
            throw e;
        }
        Json.write(ctx, 201, info);
    }

    /** The request body as read by the registry, and the read that failed, if one did. */
    private static final class ReadWatch extends java.io.FilterInputStream {
        java.io.IOException failure;

        ReadWatch(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws java.io.IOException {
            try {
                return super.read();
            } catch (java.io.IOException e) {
                failure = e;
                throw e;
            }
        }

        @Override
        public int read(byte[] buf, int off, int len) throws java.io.IOException {
            try {
                return super.read(buf, off, len);
            } catch (java.io.IOException e) {
                failure = e;
                throw e;
            }
        }
    }

    /** DELETE /admin/models/{model}/versions/{version} */
    void deleteVersion(Context ctx) {
        String model = ctx.pathParam("model");
        int v = ModelManager.parseVersion(ctx.pathParam("version"));
        manager.deleteVersion(model, v, actor(ctx));
        Json.ok(ctx, Map.of("model", model, "deleted", v));
    }

    /** PUT /admin/models/{model}/aliases/{alias} with {"version": n} */
    void setAlias(Context ctx) {
        String model = ctx.pathParam("model");
        String alias = ctx.pathParam("alias");
        JsonNode body = Json.parse(Bodies.read(ctx, cfg.maxRequestBytes()));
        Json.onlyFields(body, "{\"version\": <number>}", "version");
        JsonNode v = body.get("version");
        int version;
        if (v != null && v.isIntegralNumber() && v.canConvertToInt()) { // asInt() alone wraps 2^32 + 1 to 1
            version = v.asInt();
        } else if (v != null && v.isTextual() && ModelManager.isNumber(v.asText())) {
            version = ModelManager.parseVersion(v.asText());
        } else {
            throw ApiException.badRequest("the body must be {\"version\": <number>}");
        }
        Optional<Integer> previous = manager.setAlias(model, alias, version, actor(ctx));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("model", model);
        out.put("alias", alias);
        out.put("version", version);
        out.put("previous", previous.orElse(null));
        Json.ok(ctx, out);
    }

    /** DELETE /admin/models/{model}/aliases/{alias} */
    void removeAlias(Context ctx) {
        String model = ctx.pathParam("model");
        String alias = ctx.pathParam("alias");
        manager.removeAlias(model, alias, actor(ctx));
        Json.ok(ctx, Map.of("model", model, "removed", alias));
    }

    /** POST /admin/models/{model}/aliases/{alias}/rollback */
    void rollback(Context ctx) {
        String model = ctx.pathParam("model");
        String alias = ctx.pathParam("alias");
        int v = manager.rollback(model, alias, actor(ctx));
        Json.ok(ctx, Map.of("model", model, "alias", alias, "version", v));
    }

    /** PUT /admin/models/{model}/traffic with {"baseline": a, "canary": b, "canary_percent": p} */
    void setTraffic(Context ctx) {
        String model = ctx.pathParam("model");
        JsonNode body = Json.parse(Bodies.read(ctx, cfg.maxRequestBytes()));
        String shape = "{\"baseline\": <version>, \"canary\": <version>, \"canary_percent\": <0..100>}";
        Json.onlyFields(body, shape, "baseline", "canary", "canary_percent");
        for (String f : List.of("baseline", "canary", "canary_percent")) {
            if (!body.path(f).isIntegralNumber() || !body.path(f).canConvertToInt()) {
                throw ApiException.badRequest("the body must be " + shape + "; '" + f + "' is missing or not an integer");
            }
        }
        manager.setTraffic(model, body.get("baseline").asInt(), body.get("canary").asInt(), body.get("canary_percent").asInt(),
                actor(ctx));
        Json.ok(ctx, Map.of("model", model, "traffic", traffic(manager.routing(model).split())));
    }

    /** DELETE /admin/models/{model}/traffic */
    void clearTraffic(Context ctx) {
        String model = ctx.pathParam("model");
        manager.clearTraffic(model, actor(ctx));
        Json.ok(ctx, Map.of("model", model, "traffic", Map.of()));
    }

    private static Map<String, Object> traffic(io.dense4j.registry.TrafficSplit s) {
        return Map.of("baseline", s.baseline(), "canary", s.canary(), "canary_percent", s.canaryPercent());
    }

    /**
     * Who is acting, for the history: the X-Actor header (sanitized), else the common name of the verified client
     * certificate (mutual TLS), else "admin-api".
     */
    static String actor(Context ctx) {
        String a = ctx.header("X-Actor");
        if (a == null || a.isBlank()) {
            java.security.cert.X509Certificate cert = Access.clientCertificate(ctx.req());
            a = cert == null ? null : commonName(cert.getSubjectX500Principal().getName());
        }
        if (a == null || a.isBlank()) {
            return "admin-api";
        }
        String clean = a.replaceAll("[^A-Za-z0-9@._ -]", "_").trim();
        return clean.length() > 64 ? clean.substring(0, 64) : clean;
    }

    private static String commonName(String dn) {
        try {
            for (javax.naming.ldap.Rdn rdn : new javax.naming.ldap.LdapName(dn).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return String.valueOf(rdn.getValue());
                }
            }
        } catch (javax.naming.InvalidNameException e) {
            return null;
        }
        return null;
    }
}
