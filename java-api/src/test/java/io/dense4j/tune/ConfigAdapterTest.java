package io.dense4j.tune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Fit;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import org.junit.jupiter.api.Test;

class ConfigAdapterTest {

    @Test
    void buildsTheSameModelAndFitAsTheJavaApi() {
        try (Dataset data = Blobs.of(300, 6, 3, 0.8, 1)) {
            ConfigAdapter c = ConfigAdapter.parse(Json.parse(SearchSpaceTest.CONFIG));
            c.checkData(data);
            float[] viaConfig;
            try (Sequential m = c.newModel(6, data.classNames())) {
                m.fit(data, c.fit());
                viaConfig = m.parameters();
                assertEquals(6, m.inputSize());
            }
            float[] viaApi;
            try (Sequential m = Sequential.of(Dense.of(6, 16, Activation.RELU), Dropout.of(0.1),
                    Dense.of(3, Activation.SOFTMAX))) {
                m.compile(Optimizers.adam(0.01), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
                m.fit(data, Fit.epochs(2).batchSize(16).seed(1));
                viaApi = m.parameters();
            }
            assertArrayEquals(viaApi, viaConfig);
        }
    }

    /** One schema: the Java API's config of a model and fit settings is a document the tuner and jobs take as is. */
    @Test
    void theJavaApisConfigIsTheDocument() {
        try (Sequential m = Sequential.of(Dense.of(6, 16, Activation.RELU), Dropout.of(0.1),
                Dense.of(3, Activation.SOFTMAX))) {
            m.compile(Optimizers.adam(0.01), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            ObjectNode doc = ConfigAdapter.document(m.config(), Fit.epochs(2).batchSize(16).seed(1));
            ConfigAdapter c = ConfigAdapter.parse(doc);
            assertEquals(m.config(), c.model());
            assertEquals(2, c.epochs());
            assertEquals(16, c.batchSize());
            // and what `dense4j train --config` reads
            io.dense4j.model.TrainingConfig tc = io.dense4j.model.TrainingConfig.fromJson(doc.toString());
            assertEquals(m.config(), tc.model());
        }
    }

    @Test
    void optimizerSettingsAndSchedulesAreApplied() {
        ObjectNode cfg = (ObjectNode) Json.parse(SearchSpaceTest.CONFIG);
        ((ObjectNode) cfg.at("/model/compile_config")).set("optimizer", Json.parse("""
                {"type": "sgd", "momentum": 0.9, "nesterov": true, "weight_decay": 1e-4, "global_clipnorm": 1.0,
                 "learning_rate": {"type": "step_decay", "initial_learning_rate": 0.1, "step_epochs": 2, "decay_rate": 0.5}}"""));
        ConfigAdapter c = ConfigAdapter.parse(cfg);
        try (Sequential m = c.newModel(6, java.util.List.of())) {
            Optimizer o = m.optimizer();
            assertEquals(new io.dense4j.optim.Sgd(new LearningRateSchedule.StepDecay(0.1, 2, 0.5), 0.9, 0, 1e-4, true, 1.0, 0), o);
        }
        // resumable: the per-epoch decay becomes the same per-step staircase (100 rows, batch 16 -> 7 steps an epoch)
        try (Sequential m = c.newResumableModel(6, java.util.List.of(), 100)) {
            LearningRateSchedule s = m.optimizer().schedule();
            LearningRateSchedule byEpoch = new LearningRateSchedule.StepDecay(0.1, 2, 0.5);
            for (int step = 0; step < 7 * 9; step++) {
                assertEquals(byEpoch.at(step, step / 7), s.at(step, 0), 1e-12, "step " + step);
            }
        }
    }

    @Test
    void badConfigsSayWhatAndWhere() {
        assertMessage("/model/layers/0", "\"units\": 16", "\"units\": 0", "units must be positive");
        assertMessage("/model/compile_config/loss", "\"loss\": \"sparse_categorical_crossentropy\"", "\"loss\": \"hinge\"",
                "hinge");
        assertMessage("/model/layers", "\"activation\": \"softmax\"", "\"activation\": \"relu\"", "softmax");
        assertMessage("", "\"fit\"", "\"fitt\"", "unknown field [fitt]");
        assertMessage("/fit/epochs", "\"fit\": {\"epochs\": 2, \"batch_size\": 16, \"seed\": 1}", "\"fit\": {}", "missing required field");
        assertMessage("/model/compile_config/optimizer/momentum", "\"learning_rate\": 0.01}",
                "\"learning_rate\": 0.01, \"momentum\": 0.9}", "unknown field \"momentum\"");
        assertMessage("/model/compile_config/optimizer/learning_rate", "\"learning_rate\": 0.01", "\"learning_rate\": -1", "must be finite and >= 0");
        assertMessage("/fit/epochs", "\"epochs\": 2", "\"epochs\": \"two\"", "");
        assertMessage("/model/layers/1", "{\"type\": \"dropout\", \"rate\": 0.1}", "{\"type\": \"dropout\", \"rate\": 1.5}",
                "rate");
        assertMessage("/model/layers/1", "\"type\": \"dropout\"", "\"type\": \"conv2d\"", "conv2d");
        assertMessage("/fit/callbacks/0", "\"seed\": 1}", "\"seed\": 1, \"callbacks\": [{\"type\": \"early_stopping\", "
                + "\"patience\": 1}]}", "validation_split must be > 0");
        assertMessage("/fit/callbacks/0", "\"seed\": 1}", "\"seed\": 1, \"callbacks\": [{\"type\": \"model_checkpoint\", "
                + "\"filepath\": \"/etc/passwd\"}]}", "model_checkpoint is not taken here");
        assertMessage("/fit/initial_epoch", "\"seed\": 1}", "\"seed\": 1, \"initial_epoch\": 1}", "must be 0");
        assertMessage("/model/compile_config_", "\"compile_config\"", "\"compile_config_\"", "unknown field");
        ObjectNode uncompiled = (ObjectNode) Json.parse(SearchSpaceTest.CONFIG);
        ((ObjectNode) uncompiled.get("model")).remove("compile_config");
        ConfigException e0 = assertThrows(ConfigException.class, () -> ConfigAdapter.parse(uncompiled));
        assertEquals("/model/compile_config", e0.path(), e0.getMessage());
        try (Dataset data = Blobs.of(30, 5, 4, 1, 2)) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> ConfigAdapter.parse(Json.parse(SearchSpaceTest.CONFIG)).checkData(data));
            assertTrue(e.getMessage().contains("3 units but the data has 4 classes"), e.getMessage());
            assertEquals("/model/layers", e.path());
        }
        StringBuilder deep = new StringBuilder("{\"model\": {\"class_name\": \"Sequential\", \"config_version\": 2, \"layers\": [");
        for (int i = 0; i < 63; i++) {
            deep.append("{\"type\": \"dense\", \"units\": 65536, \"activation\": \"relu\"}, ");
        }
        deep.append("{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}], \"compile_config\": {\"loss\": "
                + "\"sparse_categorical_crossentropy\", \"optimizer\": {\"type\": \"adam\", \"learning_rate\": 0.01}}}, "
                + "\"fit\": {\"epochs\": 1}}");
        ConfigException huge = assertThrows(ConfigException.class, () -> ConfigAdapter.parse(Json.parse(deep.toString())));
        assertTrue(huge.getMessage().contains("at least 266292363267 parameters"), huge.getMessage());
        ConfigException big = assertThrows(ConfigException.class, () -> {
            ConfigAdapter c = ConfigAdapter.parse(Json.parse(SearchSpaceTest.CONFIG.replace("\"units\": 16", "\"units\": 65536")));
            try (Dataset d = Blobs.of(6, 8192, 3, 1, 3)) {
                c.checkData(d);
            }
        });
        assertTrue(big.getMessage().contains("parameters; at most"), big.getMessage());
        // every epoch keeps its metrics (history, lineage, an event row): 2^31 of them on a tiny data set filled the heap
        assertMessage("/fit/epochs", "\"epochs\": 2", "\"epochs\": 2000000000", "at most 100000");
        ConfigAdapter.parse(Json.parse(SearchSpaceTest.CONFIG.replace("\"epochs\": 2", "\"epochs\": 100000")));
    }

    /** Class labels expanded to one-hot targets are bounded: rows x classes floats, refused past 2^28. */
    @Test
    void oneHotTargetsAreBounded() {
        String categorical = SearchSpaceTest.CONFIG.replace("sparse_categorical_crossentropy", "categorical_crossentropy");
        ConfigAdapter c = ConfigAdapter.parse(Json.parse(categorical.replace("\"units\": 3", "\"units\": 65536")));
        int rows = 4200; // x 65536 classes > 2^28
        float[][] x = new float[rows][6];
        int[] y = new int[rows];
        y[0] = 65535;
        try (Dataset d = Dataset.of(x, y)) {
            ConfigException e = assertThrows(ConfigException.class, () -> c.prepare(d));
            assertEquals("/model/compile_config/loss", e.path());
            assertTrue(e.getMessage().contains("sparse_categorical_crossentropy"), e.getMessage());
        }
        try (Dataset d = Blobs.of(30, 6, 3, 1, 2); Dataset t = ConfigAdapter.parse(Json.parse(categorical)).prepare(d)) {
            assertEquals(3, t.targets().dim(1), "a small one-hot expansion is made");
        }
    }

    private static void assertMessage(String path, String from, String to, String expected) {
        String cfg = SearchSpaceTest.CONFIG.replace(from, to);
        assertTrue(!cfg.equals(SearchSpaceTest.CONFIG), "replacement " + from);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigAdapter.parse(Json.parse(cfg)));
        assertEquals(path, e.path(), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
