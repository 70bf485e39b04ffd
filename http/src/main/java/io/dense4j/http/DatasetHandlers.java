package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.service.StorageQuota;
import io.dense4j.service.TrainingService;
import io.dense4j.service.dataset.DatasetCatalog;
import io.dense4j.service.dataset.DatasetException;
import io.dense4j.service.store.Records;
import io.javalin.http.Context;
import jakarta.servlet.MultipartConfigElement;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.Part;
import org.eclipse.jetty.http.MultiPartFormData;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Data set routes: upload (streamed to disk, checked, stored under its SHA-256), list, describe, delete, and an
 * admin's registration of data already on the server. The data itself is never sent back by any route; where the
 * server keeps it is shown to admins only.
 */
final class DatasetHandlers {
    /** Room for multipart boundaries and part headers on top of the data itself. */
    static final long MULTIPART_OVERHEAD = 64 << 10;
    private static final String MULTIPART_CONFIG = "org.eclipse.jetty.multipartConfig";

    private final TrainingService training;

    DatasetHandlers(TrainingService training) {
        this.training = training;
    }

    private DatasetCatalog catalog() {
        return training.datasets();
    }

    /**
     * POST /v1/datasets: {@code multipart/form-data} with one file part per file (IDX pairs, or one CSV), or a raw
     * CSV body ({@code text/csv}; {@code ?filename=} names it). Query: {@code name}, and for CSV {@code label_column},
     * {@code ignore_columns}, {@code delimiter}, {@code header}, {@code label_kind}; {@code class_names}.
     */
    void upload(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        DatasetCatalog.Options options = options(ctx);
        long limit = catalog().maxBytes();
        String type = ctx.req().getContentType() == null ? "" : ctx.req().getContentType().toLowerCase(Locale.ROOT);
        boolean multipart = type.startsWith("multipart/form-data");
        long declared = ctx.req().getContentLengthLong();
        // the caller's storage quota: refused before anything is read when the declared data cannot fit, and counted
        // again as the bytes arrive (a body without Content-Length, or one that lies about it)
        training.quota().requireRoom(caller.name(), multipart ? declared - MULTIPART_OVERHEAD : declared, "an upload of "
                + declared + " bytes");
        try (DatasetCatalog.Upload upload = catalog().newUpload();
             StorageQuota.Meter quota = training.quota().meter(caller.name())) {
            upload.requireRoomFor(declared);
            // every byte of the body as it arrives, a multipart body's before Jetty stages its parts
            BodyCounter.countWith(ctx, quota::add);
            try {
                if (multipart) {
                    receiveParts(ctx, upload, limit);
                } else if (type.startsWith("text/csv") || type.startsWith("text/tab-separated-values")
                        || type.startsWith("application/octet-stream") || type.startsWith("text/plain")) {
                    String name = ctx.queryParam("filename");
                    if (name == null) {
                        name = type.startsWith("text/tab-separated-values") ? "data.tsv" : "data.csv";
                    }
                    try (InputStream body = Bodies.stream(ctx, limit)) {
                        upload.receive(name, body);
                    }
                } else {
                    throw ApiException.badRequest("send the data as multipart/form-data (one file part per file: IDX "
                            + "pairs or one CSV) or as a text/csv body; got Content-Type '"
                            + (type.isEmpty() ? "(none)" : type) + "'");
                }
            } catch (IOException e) {
                throw refusedOr(ctx, cutOff(ctx));
            } catch (RuntimeException e) {
                throw refusedOr(ctx, e);
            }
            quota.settle(upload.bytes()); // what is kept: the files, not the multipart framing
            DatasetCatalog.Stored stored = catalog().commit(upload, options, caller.name());
            quota.keepDataset(stored.created() ? stored.dataset().sizeBytes() : 0);
            // 201 for a caller new to these bytes even when another tenant holds them: which bytes others hold is
            // not this caller's business
            Json.write(ctx, stored.newToCaller() ? 201 : 200, view(stored.dataset(), caller));
        }
    }

    /**
     * Lets Jetty parse the multipart body into files inside the upload's staging area (nothing is held in memory,
     * its size limits apply as the bytes arrive), then receives each file part.
     */
    private void receiveParts(Context ctx, DatasetCatalog.Upload upload, long limit) throws IOException {
        ctx.req().setAttribute(MULTIPART_CONFIG, new MultipartConfigElement(upload.scratch().toString(), limit,
                limit + MULTIPART_OVERHEAD, 0));
        Bodies.bodyStreaming(ctx);
        Collection<Part> parts;
        try {
            parts = ctx.req().getParts();
        } catch (IOException e) {
            forgetFailedParse(ctx);
            throw e;
        } catch (ServletException | RuntimeException e) {
            forgetFailedParse(ctx);
            throw multipartError(ctx, e, limit);
        }
        Bodies.bodyReceived(ctx); // Jetty has parsed the whole body: checking the files is no longer the client's time
        if (parts.isEmpty()) {
            throw ApiException.badRequest("the multipart body holds no part");
        }
        for (Part p : parts) {
            if (p.getSubmittedFileName() == null) {
                throw ApiException.badRequest("part '" + p.getName() + "' is not a file: every part must be a file "
                        + "(Content-Disposition: form-data; name=...; filename=...); options go in the query string");
            }
            try (InputStream in = p.getInputStream()) {
                upload.receive(p.getSubmittedFileName(), in);
            } finally {
                p.delete();
            }
        }
    }

    /**
     * Drops Jetty's record of a failed parse once the handler answers for it. Jetty 12.1's end-of-request cleanup
     * reads that record to delete the parts' files and rethrows the parse failure from there, which aborts the
     * exchange: the client got a 500 or a reset connection instead of the handler's 400. The parts' files are
     * deleted when the parse fails, and the upload's staging area when the upload closes.
     */
    private static void forgetFailedParse(Context ctx) {
        ctx.req().removeAttribute(MultiPartFormData.class.getName());
    }

    private static RuntimeException multipartError(Context ctx, Exception e, long limit) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage());
            if (t instanceof EOFException || m.contains("unexpected EOF") || m.contains("Early EOF")) {
                return cutOff(ctx);
            }
            if (m.contains("memory file size exceeded")) {
                return ApiException.badRequest("every part must be a file (filename=...); options go in the query string");
            }
            if (m.contains("headers max length exceeded")) { // Jetty's bound on one part's headers, not the upload's
                return ApiException.badRequest("a part's headers are too long (its name and file name are short words)");
            }
            if (m.contains("too many keys")) {
                return ApiException.badRequest("too many parts: an upload is " + DatasetCatalog.MAX_FILES
                        + " files at most (an IDX pair per split, or one CSV)");
            }
            if (m.contains("exceeded")) {
                return Bodies.tooLarge(limit);
            }
        }
        return ApiException.badRequest("malformed multipart body");
    }

    /** The storage quota's refusal when it is what failed the body (a read, or Jetty's multipart parse), else {@code e}. */
    private static RuntimeException refusedOr(Context ctx, RuntimeException e) {
        RuntimeException refusal = BodyCounter.refusal(ctx);
        return refusal != null ? refusal : e;
    }

    private static ApiException cutOff(Context ctx) {
        return ApiException.badRequest("the upload was cut off after " + BodyCounter.received(ctx)
                + " bytes: nothing was stored; send it again");
    }

    private static DatasetCatalog.Options options(Context ctx) {
        String delimiter = ctx.queryParam("delimiter");
        char delim = ',';
        if (delimiter != null) {
            if (delimiter.equalsIgnoreCase("tab") || delimiter.equals("\\t")) {
                delim = '\t';
            } else if (delimiter.length() == 1) {
                delim = delimiter.charAt(0);
            } else {
                throw ApiException.badRequest("delimiter is one character (or 'tab'), got '" + delimiter + "'");
            }
        }
        String header = ctx.queryParam("header");
        if (header != null && !header.equals("true") && !header.equals("false")) {
            throw ApiException.badRequest("header is true or false, got '" + header + "'");
        }
        String kind = ctx.queryParam("label_kind");
        if (kind != null && !kind.equals("classes") && !kind.equals("regression")) {
            throw ApiException.badRequest("label_kind is classes or regression, got '" + kind + "'");
        }
        DatasetCatalog.CsvOptions csv = new DatasetCatalog.CsvOptions(ctx.queryParam("label_column"),
                list(ctx.queryParams("ignore_columns")), delim, !"false".equals(header), "regression".equals(kind));
        return new DatasetCatalog.Options(ctx.queryParam("name"), csv, list(ctx.queryParams("class_names")));
    }

    /** A repeated parameter, or one comma-separated value. */
    private static List<String> list(List<String> values) {
        List<String> out = new ArrayList<>();
        for (String v : values) {
            if (values.size() == 1) {
                Arrays.stream(v.split(",")).map(String::trim).filter(s -> !s.isEmpty()).forEach(out::add);
            } else {
                out.add(v);
            }
        }
        return out;
    }

    /** POST /admin/datasets with {"path": "/srv/data/fashion-mnist", "name": ..., CSV options, "class_names": [...]} */
    void registerLocal(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        JsonNode body = Json.parse(Bodies.read(ctx, 1 << 20));
        if (!body.isObject() || !body.path("path").isTextual()) {
            throw ApiException.badRequest("the body must be {\"path\": \"/absolute/path/on/the/server\", \"name\": ...}");
        }
        List<String> known = List.of("path", "name", "label_column", "ignore_columns", "delimiter", "header",
                "label_kind", "class_names");
        body.fieldNames().forEachRemaining(f -> {
            if (!known.contains(f)) {
                throw ApiException.badRequest("unknown field '" + f + "'; known: " + known);
            }
        });
        List<String> ignore = new ArrayList<>();
        body.path("ignore_columns").forEach(n -> ignore.add(n.asText()));
        List<String> classes = new ArrayList<>();
        body.path("class_names").forEach(n -> classes.add(n.asText()));
        String d = body.path("delimiter").asText(",");
        if (d.length() != 1 && !d.equalsIgnoreCase("tab")) {
            throw ApiException.badRequest("delimiter is one character (or 'tab')");
        }
        DatasetCatalog.CsvOptions csv = new DatasetCatalog.CsvOptions(
                body.hasNonNull("label_column") ? body.get("label_column").asText() : null, ignore,
                d.equalsIgnoreCase("tab") ? '\t' : d.charAt(0), body.path("header").asBoolean(true),
                body.path("label_kind").asText("classes").equals("regression"));
        DatasetCatalog.Options options = new DatasetCatalog.Options(body.hasNonNull("name") ? body.get("name").asText()
                : null, csv, classes);
        DatasetCatalog.Stored stored = catalog().registerLocal(Path.of(body.get("path").asText()), options, caller.name());
        Json.write(ctx, stored.created() ? 201 : 200, view(stored.dataset(), true));
    }

    /**
     * GET /v1/datasets: every data set, and the caller's storage quota and use (null for admins, who are not
     * counted).
     */
    void list(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        List<Object> out = new ArrayList<>();
        for (Records.Dataset d : catalog().list()) {
            if (DatasetCatalog.visibleTo(d, caller.name(), caller.admin())) {
                out.add(view(d, caller));
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("datasets", out);
        m.put("quota", StorageQuota.counted(caller.name()) ? training.quota().use(caller.name()).toMap() : null);
        Json.ok(ctx, m);
    }

    /** GET /v1/datasets/{sha256} */
    void describe(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        Json.ok(ctx, view(visible(catalog().get(ctx.pathParam("sha256")), caller), caller));
    }

    /** {@code d} when the caller may see it, else the 404 of an unknown data set (another tenant's is not there). */
    static Records.Dataset visible(Records.Dataset d, Access.Caller caller) {
        if (!DatasetCatalog.visibleTo(d, caller.name(), caller.admin())) {
            throw new DatasetException(DatasetException.Kind.NOT_FOUND, "no data set " + d.sha256());
        }
        return d;
    }

    /** DELETE /v1/datasets/{sha256}: its uploader or an admin; 409 while a queued or running job uses it. */
    void delete(Context ctx) {
        Access.Caller caller = Access.Caller.of(ctx);
        String sha256 = ctx.pathParam("sha256");
        Records.Dataset d;
        Records.Dataset before = visible(catalog().get(sha256), caller);
        // held while it changes, so that the owner's count cannot be read from the store in between
        try (StorageQuota.Meter owner = training.quota().meter(before.createdBy())) {
            java.util.Optional<Records.Dataset> kept = catalog().letGo(before, caller.name(), caller.admin());
            if (kept.isPresent()) {
                // others hold it too: it stays for them; the owner that let go hands its bytes to the next one
                if (!kept.get().createdBy().equals(before.createdBy())) {
                    training.quota().deleted(before);
                    training.quota().recountSoon();
                }
                Json.ok(ctx, Map.of("deleted", sha256, "name", before.name()));
                return;
            }
            d = catalog().delete(sha256, caller.name(), caller.admin());
            training.quota().deleted(d);
        }
        Json.ok(ctx, Map.of("deleted", d.sha256(), "name", d.name()));
    }

    /** A data set as clients see it: the schema and the files' checksums; where it lies only for admins. */
    static Map<String, Object> view(Records.Dataset d, Access.Caller caller) {
        Map<String, Object> m = view(d, caller.admin());
        if (!caller.admin() && !d.createdBy().equals(caller.name()) && StorageQuota.counted(d.createdBy())) {
            m.remove("created_by"); // another tenant's name is not this caller's business
        }
        return m;
    }

    static Map<String, Object> view(Records.Dataset d, boolean admin) {
        JsonNode det = DatasetCatalog.details(d);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("sha256", d.sha256());
        m.put("name", d.name());
        m.put("format", d.format());
        m.put("rows", d.rows());
        m.put("test_rows", det.path("test_rows").asLong(0));
        m.put("features", d.features());
        m.put("label_kind", d.classes() > 0 ? "classes" : "regression");
        m.put("classes", d.classes());
        m.put("class_names", d.classNames());
        List<Object> files = new ArrayList<>();
        det.path("files").fields().forEachRemaining(f -> files.add(Map.of("name", f.getKey(),
                "sha256", f.getValue().path("sha256").asText(), "bytes", f.getValue().path("bytes").asLong())));
        m.put("files", files);
        if (det.has("csv")) {
            m.put("csv", det.get("csv"));
        }
        m.put("size_bytes", d.sizeBytes());
        m.put("created_at", Instant.ofEpochMilli(d.createdAt()).toString());
        m.put("created_by", d.createdBy());
        if (admin) {
            m.put("source", det.path("source").asText());
            m.put("location", d.location());
        }
        return m;
    }

    static int status(DatasetException e) {
        return switch (e.kind()) {
            case INVALID -> 400;
            case FORBIDDEN -> 403;
            case NOT_FOUND -> 404;
            case CONFLICT -> 409;
            case TOO_LARGE -> 413;
            case NO_SPACE -> 507;
        };
    }
}
