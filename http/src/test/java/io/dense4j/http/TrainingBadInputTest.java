package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.dense4j.http.TrainingFixture.ALICE;
import static io.dense4j.http.TrainingClient.json;
import static io.dense4j.http.TrainingClient.trainSpec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile and mistaken input to the training service: every case is a clear 4xx {@code {"error": ...}} naming what
 * is wrong (the JSON path of a spec field, the line and column of a CSV value), nothing is queued or stored, no
 * server path is revealed, and an upload cut off half-way leaves nothing behind.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TrainingBadInputTest {
    @TempDir
    static Path tmp;
    TrainingFixture f;
    String sha;

    @BeforeAll
    void start() throws Exception {
        f = new TrainingFixture(tmp, t -> t);
        Path ok = TrainingData.csv(tmp.resolve("ok.csv"), 120, 4, 1);
        sha = f.uploadCsv(ok, "?ignore_columns=id", ALICE).get("sha256").asText();
        f.uploadCsv(ok, "?ignore_columns=id", TrainingFixture.BOB); // bob's jobs use it too: he holds it as well
    }

    @AfterAll
    void stop() {
        f.close();
    }

    private String submitError(String spec, int status) {
        return ServerFixture.error(f.post("/v1/jobs", ALICE, "application/json", spec), status);
    }

    @Test
    void malformedOrImpossibleJobSpecsAreRefusedWithTheFieldAtFault() {
        String strong = "{\"type\": \"adam\", \"learning_rate\": 0.01}";
        assertTrue(submitError("{\"type\": \"train\",", 400).contains("malformed JSON"));
        assertTrue(submitError("", 400).contains("empty"));
        assertTrue(submitError("[1, 2]", 400).contains("object"));
        assertTrue(submitError("{\"type\": \"train\", \"type\": \"tune\"}", 400).contains("type"), "duplicate key");
        assertTrue(submitError("{}", 400).startsWith("/type"));
        assertTrue(submitError(trainSpec(sha, strong, 1, ", \"name\": \"\\u001b[2J\\u009b31m\""), 400).startsWith("/name"),
                "terminal escapes in a name");
        assertTrue(submitError("{\"type\": \"fit\"}", 400).startsWith("/type: expected train, tune or evaluate"));
        assertTrue(submitError("{\"type\": \"train\", \"dataset\": {\"sha256\": \"abc\"}}", 400).startsWith("/dataset/sha256"));
        assertTrue(submitError(trainSpec(sha, strong, 0, ""), 400).startsWith("/config/fit"));
        assertTrue(submitError(trainSpec(sha, "{\"type\": \"adam\", \"learning_rate\": -1}", 1, ""), 400)
                .startsWith("/config/model/compile_config/optimizer/learning_rate"));
        assertTrue(submitError(trainSpec(sha, strong, 1, ", \"colour\": \"red\""), 400).contains("colour"));
        assertTrue(submitError(trainSpec(sha, strong, 1, ", \"promote\": \"always\""), 400).startsWith("/promote"));
        String classes = submitError(trainSpec(sha, strong, 1, "").replace("\"units\": 3", "\"units\": 5"), 400);
        assertTrue(classes.startsWith("/config/model/layers") && classes.contains("3 classes"), classes);
        assertTrue(submitError(trainSpec(sha, strong, 1, "").replace("\"sha256\": \"" + sha + "\"",
                "\"sha256\": \"" + sha + "\", \"holdout\": \"test_split\""), 400).contains("no test split"));
        assertTrue(submitError(trainSpec("e".repeat(64), strong, 1, ""), 404).contains("no data set " + "e".repeat(64)));
        String cpus = submitError(trainSpec(sha, strong, 1, ", \"resources\": {\"cpus\": 3}"), 400);
        assertTrue(cpus.contains("3 CPU threads") && cpus.contains("at most 2"), cpus);
        assertTrue(submitError(trainSpec(sha, strong, 1, ", \"resources\": {\"gpus\": 1}"), 400).contains("has none"));
        assertTrue(submitError(trainSpec(sha, strong, 1, ", \"resources\": {\"cpus\": 0}"), 400).startsWith("/resources/cpus"));
        for (String ck : new String[] {"{\"min_interval_seconds\": -1}", "{\"min_interval_seconds\": 1e300}",
                "{\"min_interval_seconds\": \"30\"}", "{\"min_interval_seconds\": null}", "{\"every\": 3}", "30", "[]"}) {
            String e = submitError(trainSpec(sha, strong, 1, ", \"checkpoint\": " + ck), 400);
            assertTrue(e.startsWith("/checkpoint"), ck + " -> " + e);
        }
        // a model to start from that nobody has, or will register, is refused at once (it failed the job later)
        String parent = ", \"parent\": {\"model\": \"nonexist\", \"version\": \"stable\"}";
        String noModel = submitError(trainSpec(sha, strong, 1, parent), 400);
        assertTrue(noModel.startsWith("/parent/model") && noModel.contains("no model 'nonexist'"), noModel);
        ServerFixture.error(f.post("/v1/jobs", ALICE, "application/json", "{\"x\": \"" + "a".repeat(1_100_000) + "\"}"), 413);
        assertTrue(json(f.get("/v1/jobs", ALICE)).get("jobs").isEmpty(), "nothing was queued");
        // but a chain submitted at once is taken: the first job registers what the second starts from
        long first = f.submit(trainSpec(sha, strong, 1, ", \"register_as\": \"chained\""), ALICE);
        long second = f.submit(trainSpec(sha, strong, 1, parent.replace("nonexist", "chained")), ALICE);
        f.delete("/v1/jobs/" + second, ALICE);
        f.delete("/v1/jobs/" + first, ALICE);
    }

    @Test
    void csvWithBadRowsIsRefusedWithLineAndColumn() throws Exception {
        String bad = ServerFixture.error(f.post("/v1/datasets?name=bad", ALICE, "text/csv",
                "a,b,label\n1,2,x\n3,oops,y\n"), 400);
        assertTrue(bad.contains("line 3") && bad.contains("oops") && bad.startsWith("data.csv"), bad);
        String ragged = ServerFixture.error(f.post("/v1/datasets?filename=ragged.csv", ALICE, "text/csv",
                "a,b,label\n1,2,x\n3,y\n"), 400);
        assertTrue(ragged.startsWith("ragged.csv") && ragged.contains("line 3"), ragged);
        assertTrue(ServerFixture.error(f.post("/v1/datasets", ALICE, "text/csv", "a,b,label\n1,2,\n"), 400)
                .contains("missing label"));
        assertTrue(ServerFixture.error(f.post("/v1/datasets?label_column=nope", ALICE, "text/csv",
                "a,b,label\n1,2,x\n"), 400).contains("nope"));
        ServerFixture.error(f.post("/v1/datasets?delimiter=ab", ALICE, "text/csv", "a\n"), 400);
        assertTrue(ServerFixture.error(f.post("/v1/datasets?name=x%C2%9B31m", ALICE, "text/csv", "a,b,label\n1,2,x\n"), 400)
                .contains("name"), "a C1 control (CSI) in a name");
        ServerFixture.error(f.post("/v1/datasets", ALICE, "application/json", "{}"), 400);
        for (String m : List.of(bad, ragged)) {
            assertFalse(m.contains(tmp.toString()) || m.contains("/.datasets") || m.contains(".staging"), "no server path: " + m);
        }
        assertNothingStaged();
    }

    @Test
    void broken_IDX_filesAreRefusedBeforeAnythingIsAllocated() throws Exception {
        Path dir = TrainingData.idxDirectory(tmp.resolve("idx"), 30, 0, 3, 4);
        Path images = dir.resolve("train-images-idx3-ubyte.gz");
        Path labels = dir.resolve("train-labels-idx1-ubyte.gz");
        // a header that declares two billion images, on a few bytes of data
        Path lying = tmp.resolve("lie/train-images-idx3-ubyte.gz");
        Files.createDirectories(lying.getParent());
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.writeInt(0x803);
        d.writeInt(Integer.MAX_VALUE);
        d.writeInt(28);
        d.writeInt(28);
        d.write(new byte[100]);
        TrainingData.gzip(lying, b.toByteArray());
        assertTrue(ServerFixture.error(f.uploadFiles("", ALICE, List.of(lying, labels)), 413).contains("limit"));
        Path truncated = tmp.resolve("trunc/train-images-idx3-ubyte");
        Files.createDirectories(truncated.getParent());
        byte[] raw = new java.util.zip.GZIPInputStream(Files.newInputStream(images)).readAllBytes();
        Files.write(truncated, java.util.Arrays.copyOf(raw, raw.length - 5));
        assertTrue(ServerFixture.error(f.uploadFiles("", ALICE, List.of(truncated, labels)), 400).contains("truncated"));
        Path corrupt = tmp.resolve("corrupt/train-images-idx3-ubyte.gz");
        Files.createDirectories(corrupt.getParent());
        byte[] gz = Files.readAllBytes(images);
        Files.write(corrupt, java.util.Arrays.copyOf(gz, gz.length / 2));
        assertTrue(ServerFixture.error(f.uploadFiles("", ALICE, List.of(corrupt, labels)), 400).contains("gzip"));
        assertTrue(ServerFixture.error(f.uploadFiles("", ALICE, List.of(labels, labels)), 400).contains("twice"));
        assertTrue(ServerFixture.error(f.uploadFiles("", ALICE, List.of(images)), 400).contains("train-labels"));
        Path stray = Files.writeString(tmp.resolve("notes.txt"), "hello");
        assertTrue(ServerFixture.error(f.uploadFiles("", ALICE, List.of(images, labels, stray)), 400).contains("unexpected file"));
        assertTrue(ServerFixture.error(f.uploadFiles("", ALICE, List.of()), 400).contains("no part"));
        assertTrue(ServerFixture.error(f.uploadFiles("?class_names=a,b", ALICE, List.of(images, labels)), 400)
                .contains("class names"));
        String boundary = "xyz";
        ServerFixture.error(f.post("/v1/datasets", ALICE, "multipart/form-data; boundary=" + boundary, "--" + boundary
                + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nvalue\r\n--" + boundary + "--\r\n"), 400);
        assertNothingStaged();
    }

    @Test
    void uploadsOverTheLimitAre413WhetherDeclaredOrNot() throws Exception {
        byte[] big = new byte[(4 << 20) + 100];
        java.util.Arrays.fill(big, (byte) '1');
        HttpResponse<String> declared = f.send(f.req("/v1/datasets", ALICE).header("Content-Type", "text/csv")
                .POST(HttpRequest.BodyPublishers.ofByteArray(big)).build());
        ServerFixture.error(declared, 413);
        HttpResponse<String> chunked = f.send(f.req("/v1/datasets", ALICE).header("Content-Type", "text/csv")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> (InputStream) new ByteArrayInputStream(big))).build());
        ServerFixture.error(chunked, 413);
        assertNothingStaged();
    }

    /** The client stops sending half-way (half-closes its socket): 400 "cut off", and no file and no record stay. */
    @Test
    void anUploadCutOffHalfWayLeavesNothingBehind() throws Exception {
        int datasetsBefore = json(f.get("/v1/datasets", ALICE)).get("datasets").size();
        Set<String> dirsBefore = entries(datasetsDir());
        Path dir = TrainingData.idxDirectory(tmp.resolve("cut"), 600, 0, 8, 5);
        byte[] images = Files.readAllBytes(dir.resolve("train-images-idx3-ubyte.gz"));
        String boundary = "cut-boundary";
        String head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"train-images-idx3-ubyte.gz\""
                + "\r\n\r\n";
        for (String type : List.of("multipart/form-data; boundary=" + boundary, "text/csv")) {
            try (RawHttp c = new RawHttp(f.server.port())) {
                c.write("POST /v1/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ALICE + "\r\nContent-Type: "
                        + type + "\r\nContent-Length: " + (images.length * 4) + "\r\n\r\n" + head);
                c.socket.getOutputStream().write(images, 0, images.length / 2);
                c.socket.getOutputStream().flush();
                Thread.sleep(200);
                c.socket.shutdownOutput();
                RawHttp.Response r = c.read();
                assertEquals(400, r.status(), r.body());
                assertTrue(r.body().contains("cut off") && r.body().contains("nothing was stored"), r.body());
            }
        }
        assertEquals(datasetsBefore, json(f.get("/v1/datasets", ALICE)).get("datasets").size());
        assertEquals(dirsBefore, entries(datasetsDir()));
        assertNothingStaged();
    }

    private Path datasetsDir() {
        return f.registry.root().resolve(".datasets");
    }

    /**
     * CSV uploads whose reading would need far more memory than their bytes: a 26-byte file labelled 999999999
     * (a billion classes, each given a name), a column of more distinct labels than a model can have classes, one
     * record of two million fields. Each was an OutOfMemoryError on the server (a 500 after seconds of garbage
     * collection, every other request starved meanwhile); now each is a 400 at once, and nothing is stored.
     */
    @Test
    void csvUploadsThatWouldExhaustMemoryAreRefused() throws Exception {
        int before = json(f.get("/v1/datasets", ALICE)).get("datasets").size();
        String classes = ServerFixture.error(f.post("/v1/datasets?filename=bomb.csv", ALICE, "text/csv",
                "a,label\n0,999999999\n1,0\n"), 400);
        assertTrue(classes.startsWith("bomb.csv: line 2") && classes.contains("at most 65536"), classes);
        StringBuilder ids = new StringBuilder("x,id\n");
        for (int i = 0; i <= 65536; i++) {
            ids.append("1,r").append(i).append('\n');
        }
        assertTrue(ServerFixture.error(f.post("/v1/datasets", ALICE, "text/csv", ids.toString()), 400)
                .contains("distinct labels"));
        String wide = ServerFixture.error(f.post("/v1/datasets", ALICE, "text/csv",
                "a,label\n" + "0,".repeat(2_000_000) + "1\n"), 400);
        assertTrue(wide.contains("line 2") && wide.contains("fields"), wide);
        assertEquals(before, json(f.get("/v1/datasets", ALICE)).get("datasets").size(), "nothing stored");
        assertNothingStaged();
    }

    /**
     * Multipart bodies Jetty refuses for its own bounds get the reason, not a misleading one: a part with 100 KB of
     * headers was "request body too large: the limit is 2147483648 bytes" (413) for a 100 KB body, and 1,500 tiny
     * parts only "malformed multipart body".
     */
    @Test
    void multipartBoundsAreNamed() throws Exception {
        String longHeaders = multipart(List.of("name=\"" + "f".repeat(100_000) + "\"; filename=\"a.csv\""));
        String headers = ServerFixture.error(f.post("/v1/datasets", ALICE, "multipart/form-data; boundary=b0undary",
                longHeaders), 400);
        assertTrue(headers.contains("headers are too long"), headers);
        // one part over the limit, and far over it; under the 256 KiB a body may take to arrive whole before its
        // handler runs: a body refused while it still arrives may see its connection reset (Jetty does not linger)
        for (int count : new int[] {5, 1500}) {
            List<String> many = new java.util.ArrayList<>();
            for (int i = 0; i < count; i++) {
                many.add("name=\"f" + i + "\"; filename=\"f" + i + ".csv\"");
            }
            String parts = ServerFixture.error(f.post("/v1/datasets", ALICE, "multipart/form-data; boundary=b0undary",
                    multipart(many)), 400);
            assertTrue(parts.contains("too many parts"), parts);
        }
        assertNothingStaged();
    }

    /**
     * Jetty rethrew a failed multipart parse from its end-of-request cleanup, which aborted the exchange: now and
     * then the client got a 500 or a closed connection instead of the 400. Repeated, so the race shows if it is back.
     */
    @Test
    void refusedMultipartBodiesAlwaysGetTheirAnswer() {
        String longHeaders = multipart(List.of("name=\"" + "f".repeat(100_000) + "\"; filename=\"a.csv\""));
        String noFileName = multipart(List.of("name=\"x\""));
        for (int i = 0; i < 40; i++) {
            for (String body : List.of(longHeaders, noFileName)) {
                ServerFixture.error(f.post("/v1/datasets", ALICE, "multipart/form-data; boundary=b0undary", body), 400);
            }
        }
        String ok = multipart(List.of("name=\"f\"; filename=\"fine.csv\""));
        assertEquals(201, f.post("/v1/datasets?name=after-refusals", ALICE, "multipart/form-data; boundary=b0undary", ok)
                .statusCode(), "the server takes a good upload after the refused ones");
    }

    private static String multipart(List<String> dispositions) {
        StringBuilder b = new StringBuilder();
        for (String d : dispositions) {
            b.append("--b0undary\r\nContent-Disposition: form-data; ").append(d).append("\r\n\r\na,label\n1,0\n\r\n");
        }
        return b.append("--b0undary--\r\n").toString();
    }

    private void assertNothingStaged() throws Exception {
        for (int i = 0; i < 50 && !entries(datasetsDir().resolve(".staging")).isEmpty(); i++) {
            Thread.sleep(20); // the handler's cleanup runs as its response goes out
        }
        assertEquals(Set.of(), entries(datasetsDir().resolve(".staging")), "staging is empty");
    }

    private static Set<String> entries(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    @Test
    void errorsAreJsonEvenForUnknownRoutesUnderV1() {
        ServerFixture.error(f.get("/v1/jobs/1/nothing", ALICE), 404);
        // a path the server has, under a method it does not: 405 with the path's methods (RFC 9110), JSON too
        var put = f.send(f.req("/v1/jobs", ALICE).PUT(HttpRequest.BodyPublishers.ofString("{}")).build());
        ServerFixture.error(put, 405);
        assertEquals("GET, HEAD, POST, OPTIONS", put.headers().firstValue("Allow").orElse(null));
    }

    /**
     * Job lists come a page at a time: walking the pages with next_page_token sees every job once, newest first,
     * even when a job is queued meanwhile; a token this server did not return, or a limit out of range, is a 400.
     */
    @Test
    void jobListsComeInPagesAndRefuseForgedTokensAndHugeLimits() throws Exception {
        String strong = "{\"type\": \"adam\", \"learning_rate\": 0.01}";
        List<Long> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            HttpResponse<String> r = f.post("/v1/jobs", TrainingFixture.BOB, "application/json",
                    trainSpec(sha, strong, 1, ", \"name\": \"page-" + i + "\""));
            assertEquals(201, r.statusCode(), r.body());
            ids.add(0, json(r).get("id").asLong());
        }
        List<Long> seen = new java.util.ArrayList<>();
        String token = null;
        int pages = 0;
        do {
            JsonNode page = json(f.get("/v1/jobs?limit=2" + (token == null ? "" : "&page_token=" + token),
                    TrainingFixture.BOB));
            assertTrue(page.get("jobs").size() <= 2);
            page.get("jobs").forEach(j -> seen.add(j.get("id").asLong()));
            token = page.path("next_page_token").asText(null);
            if (pages++ == 0) { // newer than every page still to come: it shows on a first page, not in this walk
                assertEquals(201, f.post("/v1/jobs", TrainingFixture.BOB, "application/json",
                        trainSpec(sha, strong, 1, ", \"name\": \"late\"")).statusCode());
            }
        } while (token != null && pages < 10);
        assertEquals(ids, seen, "every job once, newest first");
        assertEquals(3, pages);
        JsonNode newest = json(f.get("/v1/jobs?limit=1", TrainingFixture.BOB)).get("jobs").get(0);
        assertEquals("late", newest.get("name").asText(), "names come from the summary columns");
        assertTrue(newest.has("register_as") && newest.has("result"));

        java.util.Base64.Encoder b64 = java.util.Base64.getUrlEncoder().withoutPadding();
        for (String bad : List.of("", "x", "%21%21", "a".repeat(5000), b64.encodeToString("j-1".getBytes()),
                b64.encodeToString("j0".getBytes()), b64.encodeToString("k12".getBytes()),
                b64.encodeToString("jzzzzzzzzzzzzz".getBytes()), b64.encodeToString("j12\u0000".getBytes()),
                b64.encodeToString("j1".getBytes()) + "==", "'%20OR%201=1")) {
            String e = ServerFixture.error(f.get("/v1/jobs?page_token=" + bad, TrainingFixture.BOB), 400);
            assertTrue(e.contains("page_token"), bad + ": " + e);
        }
        for (String limit : List.of("0", "-1", "501", "99999999999999999999", "1e9", "2.5")) {
            ServerFixture.error(f.get("/v1/jobs?limit=" + limit, TrainingFixture.BOB), 400);
        }
    }
}
