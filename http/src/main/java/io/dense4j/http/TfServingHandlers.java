package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.tensor.ElementType;
import io.javalin.http.Context;

import java.util.ArrayList;
import java.util.List;

/**
 * TensorFlow Serving REST API (also KServe's "V1"): model status and predict, with a version or a
 * label (alias) in the path. The verb follows a colon in the last path segment
 * ({@code /v1/models/mnist:predict}), so routes capture that segment whole and split it here.
 */
final class TfServingHandlers {
    /** The one signature a Dense4J model has (TF Serving's default key). */
    static final String SIGNATURE = "serving_default";
    private final ModelManager manager;
    private final ServerConfig cfg;

    TfServingHandlers(ModelManager manager, ServerConfig cfg) {
        this.manager = manager;
        this.cfg = cfg;
    }

    /** GET /v1/models/{model}[/versions/{version}|/labels/{label}] */
    void status(Context ctx) {
        String model = ctx.pathParam("model");
        String spec = spec(ctx.pathParamMap().get("version"), ctx.pathParamMap().get("label"));
        ModelManager.Routing r = manager.routing(model);
        List<Integer> versions = new ArrayList<>();
        if (spec == null) {
            versions.addAll(r.registered());
        } else {
            int v = ModelManager.isNumber(spec) ? ModelManager.parseVersion(spec) : labelVersion(model, r, spec);
            if (!r.registered().contains(v)) {
                throw ApiException.notFound("model '" + model + "' has no version " + v);
            }
            versions.add(v);
        }
        ObjectNode out = Json.MAPPER.createObjectNode();
        ArrayNode list = out.putArray("model_version_status");
        for (int v : versions) {
            boolean ready = r.loaded().containsKey(v) && !r.unloaded();
            String failure = r.failures().get(v);
            ObjectNode s = list.addObject();
            s.put("version", Integer.toString(v));
            s.put("state", ready ? "AVAILABLE" : "END");
            ObjectNode st = s.putObject("status");
            st.put("error_code", failure == null ? "OK" : "UNKNOWN");
            st.put("error_message", failure == null ? "" : failure);
        }
        Json.ok(ctx, out);
    }

    /**
     * GET /v1/models/{model}[/versions/{version}|/labels/{label}]/metadata: TF Serving's GetModelMetadata, the
     * {@code serving_default} signature with one FP32 input and one FP32 output of shape [-1, width].
     */
    void metadata(Context ctx) {
        String model = ctx.pathParam("model");
        String version = ctx.pathParamMap().get("version");
        String label = ctx.pathParamMap().get("label");
        if (version != null) {
            ModelManager.parseVersion(version); // 400 for 0, 1.0, 2147483648 ...
        } else if (label != null && ModelManager.isNumber(label)) {
            throw ApiException.badRequest("label '" + label + "' looks like a version; use /versions/" + label);
        }
        try (ModelManager.Lease lease = manager.acquire(model, spec(version, label))) {
            LoadedVersion lv = lease.version;
            ObjectNode out = Json.MAPPER.createObjectNode();
            ObjectNode spec = out.putObject("model_spec");
            spec.put("name", model);
            spec.put("signature_name", "");
            spec.put("version", Integer.toString(lv.version()));
            ObjectNode sig = out.putObject("metadata").putObject("signature_def").putObject("signature_def")
                    .putObject(SIGNATURE);
            sig.putObject("inputs").set(V2Codec.INPUT, tensorInfo(V2Codec.INPUT, lv.inputSize()));
            sig.putObject("outputs").set(V2Codec.OUTPUT, tensorInfo(V2Codec.OUTPUT, lv.outputSize()));
            sig.put("method_name", "tensorflow/serving/predict");
            Json.ok(ctx, out);
        }
    }

    private static ObjectNode tensorInfo(String name, int width) {
        ObjectNode t = Json.MAPPER.createObjectNode();
        t.put("dtype", "DT_FLOAT");
        ObjectNode shape = t.putObject("tensor_shape");
        ArrayNode dims = shape.putArray("dim");
        dims.addObject().put("size", "-1").put("name", "");
        dims.addObject().put("size", Integer.toString(width)).put("name", "");
        shape.put("unknown_rank", false);
        t.put("name", name);
        return t;
    }

    private static int labelVersion(String model, ModelManager.Routing r, String label) {
        Integer v = r.aliases().get(label);
        if (v == null) {
            throw ApiException.notFound("model '" + model + "' has no label '" + label + "'");
        }
        return v;
    }

    /** POST /v1/models/{model}:predict, /v1/models/{model}/versions/{version}:predict, .../labels/{label}:predict */
    void predict(Context ctx) {
        String model;
        String spec;
        if (ctx.pathParamMap().containsKey("modelverb")) {
            String[] mv = verb(ctx.pathParam("modelverb"));
            model = mv[0];
            spec = null;
        } else {
            model = ctx.pathParam("model");
            String[] sv = verb(ctx.pathParamMap().getOrDefault("versionverb", ctx.pathParamMap().get("labelverb")));
            spec = sv[0];
            if (ctx.pathParamMap().containsKey("versionverb")) {
                ModelManager.parseVersion(spec);
            } else if (ModelManager.isNumber(spec)) {
                throw ApiException.badRequest("label '" + spec + "' looks like a version; use /versions/" + spec);
            }
        }
        byte[] body = Bodies.read(ctx, cfg.maxRequestBytes());
        JsonNode req = Json.parse(body);
        if (!req.isObject()) {
            throw ApiException.badRequest("the request must be a JSON object with 'instances' or 'inputs'");
        }
        JsonNode signature = req.get("signature_name");
        if (signature != null && !(signature.isTextual()
                && (signature.asText().isEmpty() || signature.asText().equals(SIGNATURE)))) {
            throw ApiException.badRequest("serving signature " + signature + " not found: the model has one signature, '"
                    + SIGNATURE + "'");
        }
        boolean rowFormat = req.has("instances");
        if (rowFormat == req.has("inputs")) {
            throw ApiException.badRequest("the request needs exactly one of 'instances' (row format) or 'inputs' (columnar format)");
        }
        try (ModelManager.Lease lease = manager.acquire(model, spec)) {
            LoadedVersion lv = lease.version;
            InferenceServer.tagModel(ctx, model, lv.version());
            float[][] rows = rowFormat ? instances(req.get("instances"), lv.inputSize()) : inputs(req.get("inputs"), lv.inputSize());
            float[][] out = InferenceServer.predict(lv, rows);
            ObjectNode res = Json.MAPPER.createObjectNode();
            ArrayNode preds = res.putArray(rowFormat ? "predictions" : "outputs");
            for (float[] row : out) {
                ArrayNode a = preds.addArray();
                for (float v : row) {
                    a.add(v);
                }
            }
            Json.ok(ctx, res);
        }
    }

    /** Splits "name:predict"; other verbs of TF Serving are not served. */
    private static String[] verb(String segment) {
        int colon = segment == null ? -1 : segment.lastIndexOf(':');
        if (colon <= 0) {
            throw ApiException.notFound("no such endpoint: expected .../{model}:predict");
        }
        String verb = segment.substring(colon + 1);
        if (verb.equals("classify") || verb.equals("regress")) {
            throw new ApiException(501, "'" + verb + "' is not supported; use ':predict'");
        }
        if (!verb.equals("predict")) {
            throw ApiException.notFound("unknown verb '" + verb + "'; use ':predict'");
        }
        return new String[] {segment.substring(0, colon)};
    }

    private static String spec(String version, String label) {
        return version != null ? version : label;
    }

    /** Row format: a list of instances, each a list of features or {"input": [...]}. */
    private float[][] instances(JsonNode instances, int width) {
        if (!instances.isArray() || instances.isEmpty()) {
            throw ApiException.badRequest("'instances' must be a non-empty list of rows");
        }
        checkRows(instances.size());
        float[][] rows = new float[instances.size()][];
        for (int i = 0; i < rows.length; i++) {
            JsonNode inst = instances.get(i);
            if (inst.isObject()) {
                if (inst.size() != 1 || !inst.has(V2Codec.INPUT)) {
                    throw ApiException.badRequest("instance " + i + " must name exactly the input '" + V2Codec.INPUT + "'");
                }
                inst = inst.get(V2Codec.INPUT);
            }
            rows[i] = row(inst, width, "instance " + i);
        }
        return rows;
    }

    /** Columnar format: {"inputs": [[...], ...]} or {"inputs": {"input": [[...], ...]}}. */
    private float[][] inputs(JsonNode inputs, int width) {
        if (inputs.isObject()) {
            if (inputs.size() != 1 || !inputs.has(V2Codec.INPUT)) {
                throw ApiException.badRequest("'inputs' must name exactly the input '" + V2Codec.INPUT + "'");
            }
            inputs = inputs.get(V2Codec.INPUT);
        }
        if (!inputs.isArray() || inputs.isEmpty()) {
            throw ApiException.badRequest("'inputs' must be a non-empty list of rows");
        }
        if (!inputs.get(0).isArray()) { // a single row given flat
            return new float[][] {row(inputs, width, "inputs")};
        }
        checkRows(inputs.size());
        float[][] rows = new float[inputs.size()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = row(inputs.get(i), width, "row " + i);
        }
        return rows;
    }

    private void checkRows(int rows) {
        if (rows > cfg.maxRequestRows()) {
            throw ApiException.badRequest("the request has " + rows + " rows; this server takes at most "
                    + cfg.maxRequestRows() + " rows per request (split the batch)");
        }
    }

    private float[] row(JsonNode node, int width, String what) {
        if (!node.isArray()) {
            throw ApiException.badRequest(what + " must be a list of " + width + " numbers");
        }
        long n = Tensors.countValues(node, V2Codec.INPUT);
        if (n != width) { // said in TF Serving's words: a TF request has no 'data' field
            throw ApiException.badRequest(what + " has " + n + " values; the model takes rows of " + width);
        }
        float[] row = new float[width];
        try {
            Tensors.fromJson(node, ElementType.FLOAT32, row, V2Codec.INPUT);
        } catch (ApiException e) {
            throw ApiException.badRequest(what + ": " + e.getMessage());
        }
        if (cfg.rejectNonFinite()) {
            try {
                Tensors.requireFinite(row, width, V2Codec.INPUT);
            } catch (ApiException e) {
                throw ApiException.badRequest(what + ": " + e.getMessage());
            }
        }
        return row;
    }
}
