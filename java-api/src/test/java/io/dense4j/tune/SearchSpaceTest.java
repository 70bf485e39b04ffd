package io.dense4j.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SearchSpaceTest {
    static final String CONFIG = """
            {"model": {"class_name": "Sequential", "config_version": 2,
                       "layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                  {"type": "dropout", "rate": 0.1},
                                  {"type": "dense", "units": 3, "activation": "softmax"}],
                       "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.01},
                                          "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}},
             "fit": {"epochs": 2, "batch_size": 16, "seed": 1}}""";

    @Test
    void valuesLandAtTheirPointersAndConditionsFollowTheChosenValues() {
        SearchSpace s = SearchSpace.parse(Json.parse("""
                {"/model/compile_config/optimizer/momentum": {"type": "uniform", "min": 0.5, "max": 0.9, "when": {"/model/compile_config/optimizer/type": "sgd"}},
                 "/model/compile_config/optimizer": {"type": "choice", "values": [{"type": "adam"}, {"type": "sgd", "nesterov": true}]},
                 "/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-4, "max": 1e-1},
                 "/model/layers/0/units": {"type": "int", "min": 8, "max": 64, "log": true},
                 "/model/layers/1/rate": {"type": "uniform", "min": 0, "max": 0.5},
                 "/fit/batch_size": {"type": "choice", "values": [16, 32]}}"""), "/search_space");
        JsonNode base = Json.parse(CONFIG);
        // coordinates in declaration order: momentum, optimizer, lr, units, rate, batch
        SearchSpace.Assignment sgd = s.assign(base, new double[] {0.5, 0.9, 0.5, 0.0, 0.5, 0.7});
        assertEquals("sgd", sgd.config().at("/model/compile_config/optimizer/type").asText());
        assertTrue(sgd.config().at("/model/compile_config/optimizer/nesterov").asBoolean());
        assertEquals(0.7, sgd.config().at("/model/compile_config/optimizer/momentum").asDouble(), 1e-12);
        assertEquals(Math.sqrt(1e-4 * 1e-1), sgd.config().at("/model/compile_config/optimizer/learning_rate").asDouble(), 1e-12);
        assertEquals(8, sgd.config().at("/model/layers/0/units").asInt());
        assertEquals(0.25, sgd.config().at("/model/layers/1/rate").asDouble(), 1e-12);
        assertEquals(32, sgd.config().at("/fit/batch_size").asInt());
        assertEquals(6, sgd.values().size());
        ConfigAdapter.parse(sgd.config()); // a valid config
        SearchSpace.Assignment adam = s.assign(base, new double[] {0.5, 0.1, 0.5, 0.999, 0.5, 0.1});
        assertFalse(adam.values().containsKey("/model/compile_config/optimizer/momentum"));
        assertTrue(adam.config().at("/model/compile_config/optimizer/momentum").isMissingNode());
        assertEquals(64, adam.config().at("/model/layers/0/units").asInt());
        assertEquals(0.01, base.at("/model/compile_config/optimizer/learning_rate").asDouble(), 0.0, "the base config is not modified");
    }

    @Test
    void logUniformSpreadsEvenlyOverDecades() {
        SearchSpace s = SearchSpace.parse(Json.parse("{\"/model/compile_config/optimizer/learning_rate\": {\"type\": \"log_uniform\", "
                + "\"min\": 1e-5, \"max\": 1e-1}}"), "");
        Sampler r = Sampler.parse(Json.parse("{\"type\": \"sobol\", \"seed\": 3}"), "", s);
        int[] decade = new int[4];
        for (int i = 0; i < 1024; i++) {
            double lr = r.values(i).get(0).asDouble();
            assertTrue(lr >= 1e-5 && lr < 1e-1);
            decade[(int) Math.floor(Math.log10(lr) + 5)]++;
        }
        for (int c : decade) {
            assertEquals(256, c, 2); // Sobol: each quarter of [0,1) holds exactly 256 of 1024 points; rounding at edges
        }
    }

    @Test
    void gridEnumeratesEveryCombinationOnceAndNeedsPointsForRanges() {
        SearchSpace s = SearchSpace.parse(Json.parse("""
                {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1, "grid_points": 3},
                 "/fit/batch_size": {"type": "choice", "values": [16, 32]},
                 "/model/layers/0/units": {"type": "int", "min": 4, "max": 6}}"""), "");
        Sampler g = Sampler.parse(Json.parse("{\"type\": \"grid\"}"), "", s);
        assertEquals(18, g.size());
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 18; i++) {
            seen.add(g.values(i).toString());
        }
        assertEquals(18, seen.size());
        assertEquals(0.01, g.values(0).get(0).asDouble() * 10, 1e-12); // 1e-3 first
        assertEquals(0.1, g.values(17).get(0).asDouble(), 1e-12);
        SearchSpace noPoints = SearchSpace.parse(Json.parse(
                "{\"/model/layers/1/rate\": {\"type\": \"uniform\", \"min\": 0, \"max\": 0.5}}"), "");
        ConfigException e = assertThrows(ConfigException.class,
                () -> Sampler.parse(Json.parse("{\"type\": \"grid\"}"), "/sampler", noPoints));
        assertTrue(e.getMessage().contains("grid_points"), e.getMessage());
        // a JSON Pointer to the key (its slashes escaped), beside the sampler
        assertEquals("/search_space/~1model~1layers~11~1rate", e.path());
    }

    @Test
    void samplersAreDeterministic() {
        SearchSpace s = SearchSpace.parse(Json.parse(
                "{\"/model/layers/1/rate\": {\"type\": \"uniform\", \"min\": 0, \"max\": 0.5}}"), "");
        for (String spec : List.of("{\"type\": \"random\", \"seed\": 4}", "{\"type\": \"sobol\", \"seed\": 4}",
                "{\"type\": \"halton\"}")) {
            List<JsonNode> a = new ArrayList<>();
            List<JsonNode> b = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                a.addAll(Sampler.parse(Json.parse(spec), "", s).values(i));
                b.addAll(Sampler.parse(Json.parse(spec), "", s).values(i));
            }
            assertEquals(a, b, spec);
        }
    }

    @Test
    void badSpacesSayWhere() {
        assertMessage("{\"/model/layers/0/units\": {\"type\": \"normal\"}}", "/s/~1model~1layers~10~1units/type: unknown domain");
        assertMessage("{\"/model/compile_config/optimizer/learning_rate\": {\"type\": \"log_uniform\", \"min\": 0, \"max\": 1}}",
                "must be positive");
        assertMessage("{\"/x\": {\"type\": \"uniform\", \"min\": 1, \"max\": 1}}", "min must be below max");
        assertMessage("{\"/x\": {\"type\": \"choice\", \"values\": []}}", "non-empty array");
        assertMessage("{\"/x\": {\"type\": \"uniform\", \"min\": 0, \"max\": 1, \"step\": 2}}", "unknown field [step]");
        assertMessage("{\"layers\": {\"type\": \"uniform\", \"min\": 0, \"max\": 1}}", "not a JSON Pointer");
        assertMessage("{}", "empty");
        SearchSpace s = SearchSpace.parse(Json.parse("{\"/model/layers/5/units\": {\"type\": \"int\", \"min\": 1, \"max\": 3}}"), "");
        ConfigException e = assertThrows(ConfigException.class, () -> s.assign(Json.parse(CONFIG), new double[] {0.5}));
        assertTrue(e.getMessage().contains("outside the config's array of 3"), e.getMessage());
    }

    private static void assertMessage(String space, String expected) {
        ConfigException e = assertThrows(ConfigException.class, () -> SearchSpace.parse(Json.parse(space), "/s"));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
