package io.dense4j.service.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.tune.ConfigException;
import io.dense4j.tune.Json;
import org.junit.jupiter.api.Test;

class JobSpecTest {
    static final String SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    static final String CONFIG = """
            {"model": {"class_name": "Sequential", "config_version": 2,
                       "layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                  {"type": "dense", "units": 3, "activation": "softmax"}],
                       "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.01},
                                          "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}},
             "fit": {"epochs": 3, "batch_size": 16, "seed": 1}}""";
    static final String TUNE = """
            {"type": "tune",
             "dataset": {"sha256": "%s", "holdout": {"fraction": 0.2, "seed": 3}},
             "config": %s,
             "tune": {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1}},
                      "max_trials": 4, "max_parallel_trials": 2},
             "resources": {"cpus": 2},
             "priority": 3,
             "register_as": "blobs",
             "promote": "if_better"}""".formatted(SHA, CONFIG);

    @Test
    void aCompleteSpecParses() {
        JobSpec s = JobSpec.parse(Json.parse(TUNE));
        assertEquals(JobSpec.Type.TUNE, s.type());
        assertEquals(SHA, s.datasetSha256());
        assertEquals(new JobSpec.Holdout(false, 0.2, 3), s.holdout());
        assertEquals(2, s.cpus());
        assertEquals(0, s.gpus());
        assertEquals(3, s.priority());
        assertEquals("blobs", s.registerAs());
        assertTrue(s.promoteIfBetter());
        assertEquals("accuracy", s.promoteMetric());
        assertEquals(4, s.tune().maxTrials());
        JobSpec t = JobSpec.parse(Json.parse("{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + SHA + "\"}, "
                + "\"config\": " + CONFIG + ", \"parent\": {\"model\": \"blobs\"}}"));
        assertNull(t.holdout(), "decided once the data set is known");
        assertEquals(new JobSpec.ModelRef("blobs", "stable"), t.parent());
        assertEquals(1, t.cpus());
    }

    @Test
    void badSpecsNameTheField() {
        bad(TUNE.replace("\"type\": \"tune\"", "\"type\": \"fit\""), "/type", "expected train, tune or evaluate");
        bad(TUNE.replace(SHA, "xyz"), "/dataset/sha256", "64 lowercase hex");
        bad(TUNE.replace("\"units\": 16", "\"units\": -1"), "/config/model/layers/0", "units must be positive");
        bad(TUNE.replace("\"max_parallel_trials\": 2", "\"max_parallel_trials\": 3"), "/resources/cpus",
                "needs 3 cpus; it asks for 2");
        bad(TUNE.replace("\"log_uniform\", \"min\": 1e-3", "\"log_uniform\", \"min\": -1"), "/tune/search_space/~1model~1compile_config~1optimizer~1learning_rate/min",
                "must be positive");
        bad(TUNE.replace("\"register_as\": \"blobs\"", "\"register_as\": \"../etc\""), "/register_as", "");
        bad(TUNE.replace("\"register_as\": \"blobs\",", ""), "/promote", "needs register_as");
        bad(TUNE.replace("\"promote\": \"if_better\"", "\"promote\": \"always\""), "/promote", "never or if_better");
        bad(TUNE.replace("\"priority\": 3", "\"priority\": 3000"), "/priority", "must be in [-1000, 1000]");
        bad(TUNE.replace("\"cpus\": 2", "\"cpus\": 2, \"ram\": 4"), "/resources", "unknown field [ram]");
        bad(TUNE.replace("\"fraction\": 0.2", "\"fraction\": 0.9"), "/dataset/holdout/fraction", "(0, 0.5]");
        bad("{\"type\": \"evaluate\", \"dataset\": {\"sha256\": \"" + SHA + "\"}}", "/model", "needs the model");
        bad("{\"type\": \"evaluate\", \"dataset\": {\"sha256\": \"" + SHA + "\"}, \"model\": {\"model\": \"m\"}, "
                + "\"register_as\": \"m\"}", "/register_as", "registers nothing");
        bad("{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + SHA + "\"}, \"config\": " + CONFIG
                + ", \"tune\": {}}", "/tune", "only a tune job");
        bad("{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + SHA + "\"}, \"config\": " + CONFIG
                + ", \"parent\": {\"model\": \"m\", \"version\": 0}}", "/parent/version", "version number >= 1");
        bad("[1, 2]", "", "expected a JSON object");
    }

    @Test
    void aTrainJobMayChooseItsCheckpointInterval() {
        String train = "{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + SHA + "\"}, \"config\": " + CONFIG;
        assertNull(JobSpec.parse(Json.parse(train + "}")).checkpointInterval(), "absent: the server's default");
        assertEquals(java.time.Duration.ZERO, JobSpec.parse(Json.parse(train
                + ", \"checkpoint\": {\"min_interval_seconds\": 0}}")).checkpointInterval());
        assertEquals(java.time.Duration.ofMillis(2500), JobSpec.parse(Json.parse(train
                + ", \"checkpoint\": {\"min_interval_seconds\": 2.5}}")).checkpointInterval());
        assertEquals(java.time.Duration.ofSeconds(JobSpec.MAX_CHECKPOINT_INTERVAL_SECONDS), JobSpec.parse(Json.parse(train
                + ", \"checkpoint\": {\"min_interval_seconds\": " + JobSpec.MAX_CHECKPOINT_INTERVAL_SECONDS + "}}"))
                .checkpointInterval());
    }

    @Test
    void hostileCheckpointIntervalsAreRefused() {
        String train = "{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + SHA + "\"}, \"config\": " + CONFIG
                + ", \"checkpoint\": %s}";
        String[][] cases = {
                {"{\"min_interval_seconds\": -0.001}", "/checkpoint/min_interval_seconds", "must be in [0, 604800]"},
                {"{\"min_interval_seconds\": 604801}", "/checkpoint/min_interval_seconds", "must be in [0, 604800]"},
                {"{\"min_interval_seconds\": 1e309}", "/checkpoint/min_interval_seconds", "finite"},
                {"{\"min_interval_seconds\": \"NaN\"}", "/checkpoint/min_interval_seconds", "expected a number"},
                {"{\"min_interval_seconds\": true}", "/checkpoint/min_interval_seconds", "expected a number"},
                {"{}", "/checkpoint/min_interval_seconds", "is required"},
                {"{\"min_interval_seconds\": 1, \"every_epochs\": 2}", "/checkpoint", "every_epochs"},
                {"30", "/checkpoint", "object"},
        };
        for (String[] c : cases) {
            ConfigException e = assertThrows(ConfigException.class, () -> JobSpec.parse(Json.parse(train.formatted(c[0]))),
                    c[0]);
            assertEquals(c[1], e.path(), c[0] + ": " + e.getMessage());
            assertTrue(e.getMessage().contains(c[2]), c[0] + ": " + e.getMessage());
        }
        bad("{\"type\": \"evaluate\", \"dataset\": {\"sha256\": \"" + SHA + "\"}, \"model\": {\"model\": \"m\"}, "
                + "\"checkpoint\": {\"min_interval_seconds\": 1}}", "/checkpoint", "an evaluate job does not checkpoint");
        // a tune job's interval is its retrain's; it is checked like a train job's
        assertEquals(java.time.Duration.ofSeconds(1), JobSpec.parse(Json.parse(TUNE.replace("\"priority\": 3",
                "\"priority\": 3, \"checkpoint\": {\"min_interval_seconds\": 1}"))).checkpointInterval());
        bad(TUNE.replace("\"priority\": 3", "\"priority\": 3, \"checkpoint\": {\"min_interval_seconds\": -1}"),
                "/checkpoint/min_interval_seconds", "must be in [0, 604800]");
    }

    private static void bad(String spec, String path, String message) {
        assertTrue(!spec.equals(TUNE), "the replacement changed nothing");
        ConfigException e = assertThrows(ConfigException.class, () -> JobSpec.parse(Json.parse(spec)));
        assertEquals(path, e.path(), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }
}
