package io.dense4j.http;

import static io.dense4j.http.ServerFixture.JSON;
import static io.dense4j.http.ServerFixture.error;
import static io.dense4j.http.ServerFixture.json;
import static io.dense4j.http.ServerFixture.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.cli.Main;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Serving Keras models: a Keras file registered (CLI) or uploaded (admin API) is converted once and a V2 infer call
 * returns Keras's outputs. Fixtures from the interop module (written by its h5py script, with NumPy expected outputs);
 * where ../shared/data has them, the real Keras MNIST files too.
 */
class KerasServingTest {
    static final Path FIXTURES = Path.of("../interop/src/test/resources/keras");

    @TempDir
    Path tmp;
    private ServerFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    /** A V2 infer body of the fixture's rows and the Keras outputs expected for them. */
    static String inferBody(JsonNode inputs) {
        StringBuilder sb = new StringBuilder("{\"inputs\":[{\"name\":\"input\",\"shape\":[").append(inputs.size())
                .append(',').append(inputs.get(0).size()).append("],\"datatype\":\"FP32\",\"data\":[");
        boolean first = true;
        for (JsonNode row : inputs) {
            for (JsonNode v : row) {
                sb.append(first ? "" : ",").append((float) v.asDouble());
                first = false;
            }
        }
        return sb.append("]}]}").toString();
    }

    static void assertKerasOutputs(JsonNode expected, JsonNode response) {
        JsonNode out = response.get("outputs").get(0);
        assertEquals("output", out.get("name").asText());
        int k = expected.get(0).size();
        assertEquals(expected.size(), out.get("shape").get(0).asInt());
        for (int r = 0; r < expected.size(); r++) {
            for (int j = 0; j < k; j++) {
                assertEquals(expected.get(r).get(j).asDouble(), out.get("data").get(r * k + j).asDouble(), 1e-5,
                        "row " + r + " output " + j);
            }
        }
    }

    static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    @Test
    void uploadedKerasFilesServeKerasOutputs() throws Exception {
        f = new ServerFixture(tmp, b -> b.adminToken("admin-secret"));
        f.bearer = "admin-secret";
        for (String fixture : new String[] {"k2_vlen.h5", "k3_names_differ.keras"}) {
            Path file = FIXTURES.resolve(fixture);
            String model = fixture.substring(0, fixture.indexOf('.')).replace('_', '-');
            HttpResponse<String> up = f.send(f.req("/admin/models/" + model + "/versions")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Files.readAllBytes(file))).build());
            assertEquals(201, up.statusCode(), up.body());
            JsonNode v = json(up);
            assertEquals(sha256(file), v.get("imported_from").get("sha256").asText(), up.body());
            JsonNode expected = JSON.readTree(FIXTURES.resolve(fixture.substring(0, fixture.lastIndexOf('.'))
                    + ".expected.json").toFile());
            assertKerasOutputs(expected.get("outputs"),
                    ok(f.post("/v2/models/" + model + "/versions/1/infer", inferBody(expected.get("inputs")))));
            JsonNode history = ok(f.get("/admin/models/" + model + "/history"));
            assertTrue(history.toString().contains(sha256(file)), history.toString());
        }
        // a Keras model Dense4J cannot represent: 400 naming the layer, nothing registered
        HttpResponse<String> bad = f.send(f.req("/admin/models/cnn/versions")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Files.readAllBytes(FIXTURES.resolve("bad_conv.h5")))).build());
        assertTrue(error(bad, 400).contains("conv2d' (Conv2D)"));
        assertFalse(f.registry.exists("cnn"));
    }

    @Test
    void registeredRealKerasModelServesKerasProbabilities() throws Exception {
        Path shared = null;
        for (String base : new String[] {"../shared/data/keras", "../../shared/data/keras"}) {
            if (Files.isDirectory(Path.of(base))) {
                shared = Path.of(base);
            }
        }
        f = new ServerFixture(tmp, b -> b.adminToken("admin-secret"));
        Path file;
        JsonNode expected;
        JsonNode inputs;
        if (shared != null && Files.isDirectory(shared.resolveSibling("mnist-t10k"))) {
            file = shared.resolve("k2_hotaruk_mnist_128.h5");
            expected = JSON.readTree(shared.resolve("k2_hotaruk_mnist_128.expected.json").toFile()).get("outputs");
            try (var test = io.dense4j.data.Mnist.loadSplit(shared.resolveSibling("mnist-t10k"), "t10k")) {
                inputs = JSON.valueToTree(new float[][] {test.features().row(0), test.features().row(1),
                        test.features().row(2), test.features().row(3), test.features().row(4), test.features().row(5),
                        test.features().row(6), test.features().row(7), test.features().row(8), test.features().row(9)});
            }
        } else { // no shared data in this checkout: a fixture in the same Keras 2 layout
            System.out.println("../shared/data/keras absent: serving the k2_vlen.h5 fixture instead of the real file");
            file = FIXTURES.resolve("k2_vlen.h5");
            JsonNode doc = JSON.readTree(FIXTURES.resolve("k2_vlen.expected.json").toFile());
            expected = doc.get("outputs");
            inputs = doc.get("inputs");
        }
        assertEquals(0, Main.run("registry", "register", "--registry", f.registry.root().toString(), "--model", "mnist",
                "--alias", "stable", file.toString()));
        assertEquals(sha256(file), f.registry.describe("mnist", 1).importedFrom().sha256());
        f.bearer = "admin-secret";
        ok(f.post("/v2/repository/models/mnist/load", ""));
        assertKerasOutputs(expected, ok(f.post("/v2/models/mnist/infer", inferBody(inputs))));
    }
}
