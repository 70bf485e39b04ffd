package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.tensor.ElementType;
import io.javalin.http.Context;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Open Inference Protocol (KServe V2) REST: server and model metadata, health, inference (JSON and
 * binary tensor data), and the model repository extension.
 */
final class V2Handlers {
    static final List<String> EXTENSIONS = List.of("binary_tensor_data", "classification", "model_repository");

    private final ModelManager manager;
    private final ServerConfig cfg;
    private final ServerState state;

    V2Handlers(ModelManager manager, ServerConfig cfg, ServerState state) {
        this.manager = manager;
        this.cfg = cfg;
        this.state = state;
    }

    /** GET /v2 */
    void serverMetadata(Context ctx) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "dense4j");
        m.put("version", InferenceServer.VERSION);
        m.put("extensions", EXTENSIONS);
        Json.ok(ctx, m);
    }

    /** GET /v2/health/live: the process answers. */
    void live(Context ctx) {
        Json.ok(ctx, Map.of("live", true));
    }

    /** GET /v2/health/ready: started, not shutting down, and every served model can answer. */
    void ready(Context ctx) {
        if (!state.accepting()) {
            throw ApiException.unavailable("the server is shutting down");
        }
        if (!manager.allReady()) {
            throw ApiException.unavailable("not every model has a loaded version yet");
        }
        Json.ok(ctx, Map.of("ready", true));
    }

    /** GET /v2/models/{model}[/versions/{version}] */
    void modelMetadata(Context ctx) {
        String model = ctx.pathParam("model");
        String version = versionParam(ctx);
        try (ModelManager.Lease lease = manager.acquire(model, version)) {
            LoadedVersion lv = lease.version;
            ObjectNode m = Json.MAPPER.createObjectNode();
            m.put("name", model);
            ArrayNode versions = m.putArray("versions");
            if (version != null) {
                versions.add(Integer.toString(lv.version()));
            } else {
                manager.routing(model).loaded().keySet().forEach(v -> versions.add(Integer.toString(v)));
            }
            m.put("platform", "dense4j");
            m.putArray("inputs").add(tensor(V2Codec.INPUT, lv.inputSize()));
            m.putArray("outputs").add(tensor(V2Codec.OUTPUT, lv.outputSize()));
            Json.ok(ctx, m);
        }
    }

    private static JsonNode tensor(String name, int width) {
        ObjectNode t = Json.MAPPER.createObjectNode();
        t.put("name", name);
        t.put("datatype", ElementType.FLOAT32.v2Name());
        t.putArray("shape").add(-1).add(width);
        return t;
    }

    /** GET /v2/models/{model}[/versions/{version}]/ready */
    void modelReady(Context ctx) {
        String model = ctx.pathParam("model");
        String version = versionParam(ctx);
        if (!manager.isReady(model, version)) {
            throw ApiException.unavailable("model '" + model + "'" + (version == null ? "" : " version " + version)
                    + " is not ready");
        }
        Json.ok(ctx, Map.of("name", model, "ready", true));
    }

    /** POST /v2/models/{model}[/versions/{version}]/infer */
    void infer(Context ctx) {
        String model = ctx.pathParam("model");
        String version = versionParam(ctx);
        byte[] body = Bodies.read(ctx, cfg.maxRequestBytes());
        try (ModelManager.Lease lease = manager.acquire(model, version)) {
            LoadedVersion lv = lease.version;
            InferenceServer.tagModel(ctx, model, lv.version());
            V2Codec.Request req = V2Codec.decode(body, ctx.header(V2Codec.HEADER_LENGTH), lv.inputSize(),
                    cfg.maxRequestRows(), cfg.rejectNonFinite());
            if (req.classes() > lv.outputSize()) {
                throw ApiException.badRequest("classification asks for the top " + req.classes() + " classes; model '"
                        + model + "' has " + lv.outputSize() + " outputs");
            }
            float[][] out = InferenceServer.predict(lv, req.rows());
            V2Codec.Encoded enc = req.classes() > 0
                    ? V2Codec.encodeClasses(model, lv.version(), req.id(),
                            V2Codec.topClasses(out, req.classes(), lv.model().classNames()), req.binaryOutput())
                    : V2Codec.encode(model, lv.version(), req.id(), out, req.binaryOutput());
            if (enc.binary()) {
                ctx.header(V2Codec.HEADER_LENGTH, Integer.toString(enc.jsonLength()));
                ctx.contentType("application/octet-stream");
            } else {
                ctx.contentType(Json.CONTENT_TYPE);
            }
            ctx.result(enc.body());
        }
    }

    /** POST /v2/repository/index: every registered version with its state. */
    void repositoryIndex(Context ctx) {
        byte[] body = Bodies.read(ctx, cfg.maxRequestBytes());
        boolean onlyReady = false;
        if (body.length > 0) {
            JsonNode req = Json.parse(body);
            Json.onlyFields(req, "a JSON object, e.g. {\"ready\": true}", "ready");
            if (req.has("ready") && !req.get("ready").isBoolean()) {
                throw ApiException.badRequest("'ready' must be true or false, got " + req.get("ready"));
            }
            onlyReady = req.path("ready").asBoolean(false);
        }
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (String model : manager.modelNames()) {
            ModelManager.Routing r;
            try {
                r = manager.routing(model);
            } catch (ApiException e) {
                continue; // removed meanwhile
            }
            for (int v : r.registered()) {
                boolean ready = r.loaded().containsKey(v) && !r.unloaded();
                if (onlyReady && !ready) {
                    continue;
                }
                ObjectNode e = out.addObject();
                e.put("name", model);
                e.put("version", Integer.toString(v));
                e.put("state", ready ? "READY" : "UNAVAILABLE");
                String reason = "";
                if (!ready) {
                    reason = r.unloaded() ? "unloaded"
                            : r.failures().getOrDefault(v, "not selected by an alias, a traffic split or the latest-version policy");
                }
                e.put("reason", reason);
            }
        }
        Json.ok(ctx, out);
    }

    /** POST /v2/repository/models/{model}/load */
    void repositoryLoad(Context ctx) {
        JsonNode parameters = repositoryParameters(ctx);
        if (parameters.has("config")) {
            throw ApiException.badRequest("this server does not take a model configuration on load: a model's versions, "
                    + "aliases and traffic come from its registry (PUT /admin/models/{model}/aliases/..., .../traffic)");
        }
        java.util.Iterator<String> names = parameters.fieldNames();
        if (names.hasNext()) {
            String name = names.next();
            throw ApiException.badRequest(name.startsWith("file:")
                    ? "this server loads models from its registry, not from files sent with the load request; upload "
                            + "a version with POST /admin/models/{model}/versions"
                    : "unknown load parameter '" + name + "'");
        }
        manager.load(ctx.pathParam("model"));
        Json.ok(ctx, Map.of());
    }

    /** POST /v2/repository/models/{model}/unload */
    void repositoryUnload(Context ctx) {
        JsonNode parameters = repositoryParameters(ctx);
        java.util.Iterator<java.util.Map.Entry<String, JsonNode>> fields = parameters.fields();
        while (fields.hasNext()) {
            java.util.Map.Entry<String, JsonNode> f = fields.next();
            // a Dense4J model has no dependents (no ensembles): the flag is valid and changes nothing
            if (!f.getKey().equals("unload_dependents") || !f.getValue().isBoolean()) {
                throw ApiException.badRequest(f.getKey().equals("unload_dependents")
                        ? "'unload_dependents' must be true or false, got " + f.getValue()
                        : "unknown unload parameter '" + f.getKey() + "'");
            }
        }
        manager.unload(ctx.pathParam("model"));
        Json.ok(ctx, Map.of());
    }

    /** The {@code parameters} object of a repository load or unload request (empty when it has no body). */
    private JsonNode repositoryParameters(Context ctx) {
        byte[] body = Bodies.read(ctx, cfg.maxRequestBytes());
        if (body.length == 0) {
            return Json.MAPPER.createObjectNode();
        }
        JsonNode req = Json.parse(body);
        Json.onlyFields(req, "empty, or a JSON object with 'parameters'", "parameters");
        JsonNode parameters = req.path("parameters");
        if (parameters.isMissingNode()) {
            return Json.MAPPER.createObjectNode();
        }
        if (!parameters.isObject()) {
            throw ApiException.badRequest("'parameters' must be a JSON object, got " + parameters);
        }
        return parameters;
    }

    /** The {version} path parameter (a number or an alias), or null on routes without one. */
    static String versionParam(Context ctx) {
        return ctx.pathParamMap().get("version");
    }
}
