package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** /openapi.json documents exactly the route table: every route, nothing else, each with its role. */
class OpenApiRoutesTest {
    @TempDir
    Path tmp;

    @Test
    void openApiMatchesTheRouteTable() {
        try (ServerFixture f = new ServerFixture(tmp, b -> b)) {
            Map<String, String> routes = new TreeMap<>();
            for (Route r : f.server.routes()) {
                routes.put(r.key(), r.role().documented());
            }
            JsonNode api = ServerFixture.ok(f.get("/openapi.json"));
            Map<String, String> documented = new TreeMap<>();
            api.get("paths").fields().forEachRemaining(p -> p.getValue().fields().forEachRemaining(op ->
                    documented.put(op.getKey().toUpperCase(Locale.ROOT) + " " + p.getKey(),
                            op.getValue().path("x-dense4j-role").asText("(no role)"))));
            assertEquals(routes, documented);
            // the documented job spec example is a valid job spec
            JsonNode example = api.at("/components/schemas/JobSpec/example");
            io.dense4j.service.job.JobSpec spec = io.dense4j.service.job.JobSpec.parse(
                    io.dense4j.tune.Json.parse(example.toString()));
            assertEquals("fashion", spec.registerAs());
            // and so is the documented federated task
            io.dense4j.service.federated.TaskSpec task = io.dense4j.service.federated.TaskSpec.parse(
                    io.dense4j.tune.Json.parse(api.at("/components/schemas/FederatedTaskRequest/example").toString()), 0);
            assertEquals(8, task.config().clientsPerRound());
            assertEquals(10, task.clients().size());
        }
    }
}
