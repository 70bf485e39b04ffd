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

    @Test
    void optimizerSettingsAndSchedulesAreApplied() {
        ObjectNode cfg = (ObjectNode) Json.parse(SearchSpaceTest.CONFIG);
        cfg.set("optimizer", Json.parse("""
                {"type": "sgd", "learning_rate": 0.1, "nesterov": true, "momentum": 0.9, "weight_decay": 1e-4,
                 "clip_norm": 1.0, "schedule": {"type": "step", "every_epochs": 2, "gamma": 0.5}}"""));
        ConfigAdapter c = ConfigAdapter.parse(cfg);
        try (Sequential m = c.newModel(6, java.util.List.of())) {
            Optimizer o = m.optimizer();
            assertEquals(Optimizer.Kind.SGD, o.kind());
            assertEquals(0.9f, o.get("momentum"));
            assertEquals(1f, o.get("nesterov"));
            assertEquals(1e-4f, o.get("weight_decay"));
            assertEquals(1f, o.clipNorm());
            assertEquals(new LearningRateSchedule.StepDecay(0.1, 2, 0.5), o.schedule());
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
        assertMessage("/layers/0/units", "\"units\": 16", "\"units\": 0", "must be in [1, 65536]");
        assertMessage("/loss", "\"loss\": \"sparse_categorical_crossentropy\"", "\"loss\": \"hinge\"", "unknown loss 'hinge'");
        assertMessage("/layers", "\"activation\": \"softmax\"", "\"activation\": \"relu\"", "needs a softmax output");
        assertMessage("", "\"training\"", "\"trainig\"", "unknown field [trainig]");
        assertMessage("/optimizer", "\"learning_rate\": 0.01}", "\"learning_rate\": 0.01, \"momentum\": 0.9}",
                "unknown field [momentum]");
        assertMessage("/optimizer/learning_rate", "\"learning_rate\": 0.01", "\"learning_rate\": -1", "must be > 0");
        assertMessage("/optimizer", "{\"type\": \"adam\", \"learning_rate\": 0.01}",
                "{\"type\": \"sgd\", \"learning_rate\": 0.01, \"nesterov\": true}", "Nesterov");
        assertMessage("/training/epochs", "\"epochs\": 2", "\"epochs\": \"2\"", "expected an integer");
        assertMessage("/layers/1", "{\"type\": \"dropout\", \"rate\": 0.1}", "{\"type\": \"dropout\", \"rate\": 1.5}",
                "dropout rate must be in [0, 1)");
        assertMessage("/training/early_stopping", "\"seed\": 1}", "\"seed\": 1, \"early_stopping\": {\"patience\": 1}}",
                "validation_split must be > 0");
        try (Dataset data = Blobs.of(30, 5, 4, 1, 2)) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> ConfigAdapter.parse(Json.parse(SearchSpaceTest.CONFIG)).checkData(data));
            assertTrue(e.getMessage().contains("3 units but the data has 4 classes"), e.getMessage());
        }
        StringBuilder deep = new StringBuilder("{\"layers\": [");
        for (int i = 0; i < 63; i++) {
            deep.append("{\"type\": \"dense\", \"units\": 65536, \"activation\": \"relu\"}, ");
        }
        deep.append("{\"type\": \"dense\", \"units\": 3, \"activation\": \"softmax\"}], \"loss\": \"sparse_categorical_crossentropy\", "
                + "\"optimizer\": {\"type\": \"adam\", \"learning_rate\": 0.01}, \"training\": {\"epochs\": 1}}");
        ConfigException huge = assertThrows(ConfigException.class, () -> ConfigAdapter.parse(Json.parse(deep.toString())));
        assertTrue(huge.getMessage().contains("at least 266292363267 parameters"), huge.getMessage());
        ConfigException big = assertThrows(ConfigException.class, () -> {
            ConfigAdapter c = ConfigAdapter.parse(Json.parse(SearchSpaceTest.CONFIG.replace("\"units\": 16", "\"units\": 65536")));
            try (Dataset d = Blobs.of(6, 8192, 3, 1, 3)) {
                c.checkData(d);
            }
        });
        assertTrue(big.getMessage().contains("parameters; at most"), big.getMessage());
    }

    private static void assertMessage(String path, String from, String to, String expected) {
        String cfg = SearchSpaceTest.CONFIG.replace(from, to);
        assertTrue(!cfg.equals(SearchSpaceTest.CONFIG), "replacement " + from);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigAdapter.parse(Json.parse(cfg)));
        assertEquals(path, e.path(), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
