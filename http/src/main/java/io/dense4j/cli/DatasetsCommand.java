package io.dense4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.FileNotFoundException;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * {@code dense4j datasets ...}: the data sets of a training server. Uploads stream the files from disk (the JDK
 * client sends them as they are read, as one multipart body); nothing is held in memory.
 */
@Command(name = "datasets", mixinStandardHelpOptions = true, description = "Upload, list, describe and delete the data "
        + "sets of a training server.")
public final class DatasetsCommand implements Runnable {
    /** The IDX files an upload of a directory sends (raw or .gz; the t10k pair is the test split). */
    static final List<String> IDX_FILES = List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "upload", mixinStandardHelpOptions = true, description = "Upload a directory of IDX files (MNIST "
            + "layout: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], optionally the t10k pair as the test "
            + "split) or a CSV file; prints its SHA-256, which jobs name it by.")
    int upload(@Mixin ApiClient.Options api,
               @Parameters(index = "0", paramLabel = "DIR|FILE.csv", description = "IDX directory or CSV file") Path path,
               @Option(names = "--name", description = "a label for people (default: the file or directory name)") String name,
               @Option(names = "--label-column", description = "CSV: the label column, by header name or 0-based index "
                       + "(default: the last)") String labelColumn,
               @Option(names = "--ignore-columns", split = ",", description = "CSV: columns to skip (e.g. an id)")
               List<String> ignore,
               @Option(names = "--delimiter", description = "CSV: the field delimiter, one character or 'tab' (default ,)")
               String delimiter,
               @Option(names = "--no-header", description = "CSV: the first row is data, not column names") boolean noHeader,
               @Option(names = "--regression", description = "CSV: the label column holds numeric targets, not classes")
               boolean regression,
               @Option(names = "--class-names", split = ",", description = "class names in label order") List<String> classNames)
            throws Exception {
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(path)) {
            for (String base : IDX_FILES) {
                Path gz = path.resolve(base + ".gz");
                Path raw = path.resolve(base);
                if (Files.isRegularFile(gz)) {
                    files.add(gz);
                } else if (Files.isRegularFile(raw)) {
                    files.add(raw);
                }
            }
            if (files.isEmpty()) {
                throw new IllegalArgumentException(path + " holds none of " + IDX_FILES + " (raw or .gz)");
            }
        } else if (Files.isRegularFile(path)) {
            files.add(path);
        } else {
            throw new NoSuchFileException(path.toString());
        }
        String boundary = "dense4j-" + UUID.randomUUID();
        List<HttpRequest.BodyPublisher> parts = new ArrayList<>();
        long bytes = 0;
        for (Path f : files) {
            String head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                    + f.getFileName() + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
            parts.add(HttpRequest.BodyPublishers.ofString(head, StandardCharsets.UTF_8));
            try {
                parts.add(HttpRequest.BodyPublishers.ofFile(f)); // read from disk as it is sent
            } catch (FileNotFoundException e) {
                throw new NoSuchFileException(f.toString());
            }
            parts.add(HttpRequest.BodyPublishers.ofString("\r\n"));
            bytes += Files.size(f);
        }
        parts.add(HttpRequest.BodyPublishers.ofString("--" + boundary + "--\r\n"));
        Map<String, String> q = new LinkedHashMap<>();
        q.put("name", name != null ? name : path.toAbsolutePath().normalize().getFileName().toString());
        q.put("label_column", labelColumn);
        q.put("ignore_columns", ignore == null ? null : String.join(",", ignore));
        q.put("delimiter", delimiter);
        q.put("header", noHeader ? "false" : null);
        q.put("label_kind", regression ? "regression" : null);
        q.put("class_names", classNames == null ? null : String.join(",", classNames));
        System.err.printf(Locale.ROOT, "uploading %d file%s, %.1f MB...%n", files.size(), files.size() == 1 ? "" : "s",
                bytes / 1e6);
        JsonNode d = api.client().post("/v1/datasets" + ApiClient.query(q), "multipart/form-data; boundary=" + boundary,
                HttpRequest.BodyPublishers.concat(parts.toArray(HttpRequest.BodyPublisher[]::new)));
        System.out.println(d.path("sha256").asText());
        System.err.println(summary(d));
        return 0;
    }

    @Command(name = "register", mixinStandardHelpOptions = true, description = "Admin: register data that already lies "
            + "on the server (an IDX directory or a CSV file, by its absolute path there); nothing is copied.")
    int register(@Mixin ApiClient.Options api,
                 @Parameters(index = "0", paramLabel = "SERVER_PATH") String serverPath,
                 @Option(names = "--name", description = "a label for people") String name,
                 @Option(names = "--label-column", description = "CSV: the label column") String labelColumn,
                 @Option(names = "--class-names", split = ",", description = "class names in label order")
                 List<String> classNames) {
        ObjectNode body = ApiClient.JSON.createObjectNode();
        body.put("path", serverPath);
        if (name != null) {
            body.put("name", name);
        }
        if (labelColumn != null) {
            body.put("label_column", labelColumn);
        }
        if (classNames != null) {
            classNames.forEach(body.putArray("class_names")::add);
        }
        JsonNode d = api.client().post("/admin/datasets", "application/json",
                HttpRequest.BodyPublishers.ofString(body.toString()));
        System.out.println(d.path("sha256").asText());
        System.err.println(summary(d));
        return 0;
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the data sets.")
    int list(@Mixin ApiClient.Options api) {
        JsonNode answer = api.client().get("/v1/datasets");
        JsonNode all = answer.path("datasets");
        System.out.printf("%-14s %-24s %-6s %10s %9s %8s  %s%n", "SHA256", "NAME", "FORMAT", "ROWS", "FEATURES", "CLASSES",
                "ADDED BY");
        for (JsonNode d : all) {
            System.out.printf(Locale.ROOT, "%-14s %-24s %-6s %10s %9d %8s  %s%n", d.path("sha256").asText().substring(0, 12),
                    clip(d.path("name").asText(), 24), d.path("format").asText(),
                    d.path("rows").asLong() + (d.path("test_rows").asLong() > 0 ? "+" + d.path("test_rows").asLong() : ""),
                    d.path("features").asInt(), d.path("classes").asInt() > 0 ? d.path("classes").asText() : "-",
                    d.path("created_by").asText());
        }
        JsonNode q = answer.path("quota");
        if (q.isObject()) {
            System.out.printf(Locale.ROOT, "storage quota of %s: %d of %d bytes used (data sets %d, models %d)%n",
                    q.path("owner").asText(), q.path("used_bytes").asLong(), q.path("limit_bytes").asLong(),
                    q.path("dataset_bytes").asLong(), q.path("model_bytes").asLong());
        }
        return 0;
    }

    @Command(name = "describe", mixinStandardHelpOptions = true, description = "Show a data set's schema and files as JSON.")
    int describe(@Mixin ApiClient.Options api, @Parameters(index = "0", paramLabel = "SHA256") String sha) throws Exception {
        System.out.println(RegistryCommand.JSON.writeValueAsString(api.client().get("/v1/datasets/" + resolve(api, sha))));
        return 0;
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a data set (refused while a queued "
            + "or running job uses it).")
    int delete(@Mixin ApiClient.Options api, @Parameters(index = "0", paramLabel = "SHA256") String sha) {
        JsonNode r = api.client().delete("/v1/datasets/" + resolve(api, sha));
        System.out.println("deleted " + r.path("deleted").asText() + " (" + r.path("name").asText() + ")");
        return 0;
    }

    static String summary(JsonNode d) {
        return String.format(Locale.ROOT, "%s '%s': %s, %d rows%s, %d features, %s", d.path("sha256").asText(),
                d.path("name").asText(), d.path("format").asText(), d.path("rows").asLong(),
                d.path("test_rows").asLong() > 0 ? " (+" + d.path("test_rows").asLong() + " test)" : "",
                d.path("features").asInt(), d.path("classes").asInt() > 0 ? d.path("classes").asInt() + " classes "
                        + d.path("class_names") : "regression targets");
    }

    /**
     * A data set's SHA-256 from the whole digest, or from a prefix of at least 8 hex digits (what `datasets list`
     * shows) that one data set this token sees starts with.
     */
    private static String resolve(ApiClient.Options api, String sha) {
        String s = sha.toLowerCase(Locale.ROOT);
        if (s.matches("[0-9a-f]{64}")) {
            return s;
        }
        if (!s.matches("[0-9a-f]{8,63}")) {
            throw new IllegalArgumentException("a data set is named by its SHA-256 (64 hex digits), or by the first 8 or "
                    + "more of them as `datasets list` shows, got '" + sha + "'");
        }
        java.util.List<String> matches = new java.util.ArrayList<>();
        for (JsonNode d : api.client().get("/v1/datasets").path("datasets")) {
            if (d.path("sha256").asText().startsWith(s)) {
                matches.add(d.path("sha256").asText());
            }
        }
        if (matches.size() != 1) {
            throw new IllegalArgumentException(matches.isEmpty() ? "no data set of yours starts with " + s
                    : s + " starts " + matches.size() + " data sets (" + String.join(", ", matches) + "): give more digits");
        }
        return matches.get(0);
    }

    static String clip(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "~";
    }
}
