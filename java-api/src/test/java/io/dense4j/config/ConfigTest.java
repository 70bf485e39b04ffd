package io.dense4j.config;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.data.Normalizer;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.layers.Initializer;
import io.dense4j.layers.Layer;
import io.dense4j.model.CompileConfig;
import io.dense4j.model.ModelConfig;
import io.dense4j.optim.Adam;
import io.dense4j.optim.AdamW;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.Optimizers;
import io.dense4j.optim.RmsProp;
import io.dense4j.optim.Sgd;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.Fit;
import io.dense4j.train.Loss;
import io.dense4j.train.Metric;
import io.dense4j.train.Metrics;
import io.dense4j.train.ModelCheckpoint;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every config object (layer, loss, metric, optimizer, schedule, normalizer, model, fit settings) maps to JSON
 * with Keras's snake_case names and back to an equal object, through the one mapper; bad configs fail with the
 * path of the offending field.
 */
class ConfigTest {
    static final ObjectMapper PLAIN = new ObjectMapper();

    static <T> T roundTrip(T value, Class<T> type) {
        String json = Configs.toJson(value);
        T back = Configs.fromJson(json, type);
        assertEquals(json, Configs.toJson(back), "JSON -> object -> JSON is stable");
        return back;
    }

    @Test
    void layersUseKerasNames() throws Exception {
        Layer d = Dense.of(784, 128, Activation.RELU).withInitializer(Initializer.HE_NORMAL);
        assertEquals(PLAIN.readTree("{\"type\":\"dense\",\"units\":128,\"activation\":\"relu\","
                + "\"kernel_initializer\":\"he_normal\",\"input_dim\":784}"), PLAIN.readTree(Configs.toJson(d)));
        assertEquals(d, roundTrip(d, Layer.class));
        Layer inferred = Dense.of(10, Activation.SOFTMAX);
        assertFalse(Configs.toJson(inferred).contains("input_dim"), "an inferred width is not written");
        assertEquals(inferred, roundTrip(inferred, Layer.class));
        assertEquals(Dropout.of(0.25), roundTrip(Dropout.of(0.25), Layer.class));
        // Keras defaults for what a person may leave out
        assertEquals(new Dense(-1, 3, Activation.LINEAR, Initializer.GLOROT_UNIFORM),
                Configs.fromJson("{\"type\":\"dense\",\"units\":3}", Layer.class));
        assertEquals(Dense.of(4, 3, Activation.SIGMOID), Layer.fromConfig(Dense.of(4, 3, Activation.SIGMOID).config()));
    }

    @Test
    void everyOptimizerAndScheduleRoundTrips() {
        List<Optimizer> all = List.of(
                Optimizers.sgd(0.1, 0.9, true).withWeightDecay(1e-4).withClipNorm(1),
                Optimizers.adam(1e-3).with("amsgrad", 1).withClipValue(0.5),
                Optimizers.adamw(2e-3, 0.05).withSchedule(new LearningRateSchedule.Cosine(2e-3, 1000, 0.1)),
                Optimizers.rmsprop(1e-3).with("centered", 1).with("momentum", 0.3)
                        .withSchedule(new LearningRateSchedule.Exponential(1e-3, 100, 0.9, true)),
                Optimizers.sgd(0.5).withSchedule(new LearningRateSchedule.StepDecay(0.5, 3, 0.1)));
        for (Optimizer o : all) {
            assertEquals(o, roundTrip(o, Optimizer.class), Configs.toJson(o));
            assertEquals(o, Optimizer.fromConfig(o.config()));
        }
    }

    @Test
    void optimizerJsonIsKerasLike() throws Exception {
        JsonNode adam = PLAIN.readTree(Configs.toJson(Optimizers.adam(1e-3)));
        assertEquals(PLAIN.readTree("{\"type\":\"adam\",\"learning_rate\":0.001,\"beta_1\":0.9,\"beta_2\":0.999,"
                + "\"epsilon\":1.0E-8,\"weight_decay\":0.0,\"amsgrad\":false,\"global_clipnorm\":null,"
                + "\"clipvalue\":null}"), adam);
        JsonNode cosine = PLAIN.readTree(Configs.toJson(Optimizers.adam(1e-3)
                .withSchedule(new LearningRateSchedule.Cosine(0.01, 500, 0.0))));
        assertEquals(PLAIN.readTree("{\"type\":\"cosine_decay\",\"initial_learning_rate\":0.01,\"decay_steps\":500,"
                + "\"alpha\":0.0}"), cosine.get("learning_rate"));
        // what a person writes: only what differs from the defaults; a rate is a number
        Optimizer o = Configs.fromJson("{\"type\":\"rmsprop\",\"learning_rate\":0.01,\"centered\":true}", Optimizer.class);
        assertEquals(new RmsProp(new LearningRateSchedule.Constant(0.01), 0.99, 1e-8, 0, 0, true, 0, 0), o);
        assertEquals(new Sgd(new LearningRateSchedule.Constant(0.01), 0, 0, 0, false, 0, 0),
                Configs.fromJson("{\"type\":\"sgd\"}", Optimizer.class));
        assertEquals(0.01, ((AdamW) Configs.fromJson("{\"type\":\"adamw\"}", Optimizer.class)).weightDecay());
    }

    @Test
    void typedSettingsReplaceThePositionalArray() {
        Adam a = Optimizers.adam(1e-3);
        assertEquals(0.999, a.beta2());
        Optimizer b = a.with("beta_2", 0.98).with("beta1", 0.8).with("eps", 1e-7);
        Adam typed = assertInstanceOf(Adam.class, b);
        assertEquals(0.98, typed.beta2());
        assertEquals(0.8, typed.beta1());
        assertEquals(1e-7, typed.epsilon());
        assertEquals(0.98, b.get("beta2"));
        assertEquals(List.of("learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay", "amsgrad",
                "global_clipnorm", "clipvalue"), a.settingNames());
        var e = assertThrows(IllegalArgumentException.class, () -> a.with("momentum", 0.9));
        assertTrue(e.getMessage().contains("adam has no setting 'momentum'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> a.with("beta_1", -1));
        assertTrue(e.getMessage().contains("beta_1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Optimizers.sgd(0.1, 0, true));
        assertTrue(e.getMessage().contains("Nesterov"), e.getMessage());
    }

    @Test
    void lossesMetricsAndNormalizers() {
        for (Loss l : Loss.values()) {
            assertEquals('"' + l.configName() + '"', Configs.toJson(l));
            assertEquals(l, roundTrip(l, Loss.class));
        }
        assertEquals(Metrics.topK(5), roundTrip(Metrics.topK(5), Metric.class));
        assertEquals("\"top_5_accuracy\"", Configs.toJson(Metrics.topK(5)));
        assertEquals(Metrics.ACCURACY, roundTrip(Metrics.ACCURACY, Metric.class));
        Normalizer s = Normalizer.standardize();
        assertEquals("{\"type\":\"standardize\"}", Configs.toJson(s));
        assertFalse(roundTrip(s, Normalizer.class).isFitted());
        assertEquals("{\"type\":\"minmax\",\"min\":[1.0,2.0],\"max\":[3.0,4.5]}", Configs.toJson(Normalizer.fromConfig(
                Map.of("type", "minmax", "min", List.of(1.0, 2.0), "max", List.of(3.0, 4.5)))));
        assertEquals("{\"type\":\"scale\",\"scale\":0.5}", Configs.toJson(roundTrip(Normalizer.scale(0.5f), Normalizer.class)));
    }

    @Test
    void modelConfigRoundTripsAndValidates() {
        ModelConfig c = new ModelConfig(List.of(Dense.of(784, 128, Activation.RELU), Dropout.of(0.2),
                Dense.of(10, Activation.SOFTMAX)), Normalizer.standardize(),
                new CompileConfig(Optimizers.adam(1e-3), Loss.SPARSE_CATEGORICAL_CROSSENTROPY,
                        List.of(Metrics.ACCURACY, Metrics.topK(3))));
        String json = c.toJson();
        assertTrue(json.startsWith("{\"class_name\":\"Sequential\",\"config_version\":2,\"layers\":"), json);
        ModelConfig back = ModelConfig.fromJson(json);
        assertEquals(json, back.toJson());
        assertEquals(c.architecture(), back.architecture());
        // an uncompiled config, and one leaving the input width to the data
        ModelConfig bare = ModelConfig.fromJson("{\"class_name\":\"Sequential\",\"config_version\":2,\"layers\":"
                + "[{\"type\":\"dense\",\"units\":8,\"activation\":\"relu\"},{\"type\":\"dense\",\"units\":1}]}");
        assertNull(bare.compile());
        assertFalse(bare.hasInputs());
        assertEquals(5, bare.withInputs(5).architecture().inputs());
        var e = assertThrows(IllegalArgumentException.class, bare::validate);
        assertTrue(e.getMessage().contains("input width"), e.getMessage());
        // the loss must suit the output
        ModelConfig wrong = c.withCompile(new CompileConfig(Optimizers.adam(1e-3), Loss.BINARY_CROSSENTROPY, List.of()));
        e = assertThrows(IllegalArgumentException.class, wrong::validate);
        assertTrue(e.getMessage().contains("binary_crossentropy needs a sigmoid"), e.getMessage());
    }

    @Test
    void fitSettingsAndBuiltInCallbacksRoundTrip() {
        Fit f = Fit.epochs(7).batchSize(64).validationSplit(0.1).seed(3).shuffle(false).initialEpoch(2)
                .stepsPerEpoch(50).callbacks(EarlyStopping.onValLoss(2, true),
                        ModelCheckpoint.everyEpoch("ckpt-{epoch}.d4j").withOptimizerState());
        String json = f.toJson();
        Fit back = Fit.fromJson(json);
        assertEquals(json, back.toJson());
        assertEquals(7, back.epochs());
        assertEquals(50, back.stepsPerEpoch());
        assertEquals(2, back.callbacks().size());
        assertTrue(((ModelCheckpoint) back.callbacks().get(1)).includeOptimizer());
        assertEquals(Fit.epochs(5).toJson(), Fit.fromJson("{\"epochs\":5}").toJson(), "Keras defaults");
        var e = assertThrows(IllegalArgumentException.class,
                () -> Fit.epochs(1).callbacks(new io.dense4j.train.Callback() {}).toJson());
        assertTrue(e.getMessage().contains("has no config"), e.getMessage());
    }

    @Test
    void badConfigsNameTheFieldAndTheProblem() {
        String layers = "{\"class_name\":\"Sequential\",\"config_version\":2,\"layers\":[%s]}";
        var e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson(String.format(layers,
                "{\"type\":\"dense\",\"units\":4,\"input_dim\":3},{\"type\":\"dense\",\"units\":0}")));
        assertTrue(e.getMessage().contains("layers[1]") && e.getMessage().contains("units must be positive"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson(String.format(layers,
                "{\"type\":\"conv2d\",\"units\":4}")));
        assertTrue(e.getMessage().contains("unknown layer type 'conv2d', expected one of dense, dropout"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson(String.format(layers,
                "{\"type\":\"dense\",\"units\":4,\"activaton\":\"relu\"}")));
        assertTrue(e.getMessage().contains("activaton"), "a misspelt field is an error: " + e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson(String.format(layers,
                "{\"type\":\"dense\",\"units\":4.5}")));
        assertTrue(e.getMessage().contains("layers[0].units"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson(String.format(layers,
                "{\"type\":\"dense\",\"units\":4,\"activation\":\"swish\"}")));
        assertTrue(e.getMessage().contains("unknown activation 'swish'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson(
                "{\"class_name\":\"Sequential\",\"config_version\":3,\"layers\":[]}"));
        assertTrue(e.getMessage().contains("config_version 3 is not supported"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson(
                "{\"type\":\"adam\",\"learning_rate\":{\"type\":\"cosine_decay\",\"decay_steps\":10}}", Optimizer.class));
        assertTrue(e.getMessage().contains("initial_learning_rate"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson(
                "{\"type\":\"adam\",\"learning_rate\":0.1,\"learning_rate\":0.2}", Optimizer.class));
        assertTrue(e.getMessage().contains("Duplicate"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson("{\"type\":\"nadam\"}", Optimizer.class));
        assertTrue(e.getMessage().contains("unknown optimizer type 'nadam', expected one of adam, adamw, rmsprop, sgd"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson("{\"type\":\"sgd\"} {}", Optimizer.class));
        assertTrue(e.getMessage().toLowerCase().contains("trailing"), e.getMessage());
        // absurd sizes are refused before anything is allocated
        ModelConfig huge = ModelConfig.fromJson(String.format(layers,
                "{\"type\":\"dense\",\"units\":2000000000,\"input_dim\":2000000000}"));
        e = assertThrows(IllegalArgumentException.class, huge::validate);
        assertTrue(e.getMessage().contains("parameters; Dense4J holds at most"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> io.dense4j.Sequential.fromConfig(huge));
        assertTrue(e.getMessage().contains("parameters; Dense4J holds at most"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson("{\"type\":\"sgd\","
                + "\"learning_rate\":-1}", Optimizer.class));
        assertTrue(e.getMessage().contains("learning rate must be finite and >= 0"), e.getMessage());
        // finite as a double, infinite as the float the kernels take: refused here, not by the native step
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson("{\"type\":\"adam\","
                + "\"learning_rate\":1e39}", Optimizer.class));
        assertTrue(e.getMessage().contains("learning rate must be at most 3.4028235E38 (a 32-bit float), got 1.0E39"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson("{\"type\":\"adam\","
                + "\"epsilon\":1e300}", Optimizer.class));
        assertTrue(e.getMessage().contains("optimizer setting epsilon must be at most"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Configs.fromJson("{\"type\":\"sgd\",\"learning_rate\":"
                + "{\"type\":\"cosine_decay\",\"initial_learning_rate\":1e308,\"decay_steps\":10}}", Optimizer.class));
        assertTrue(e.getMessage().contains("(a 32-bit float)"), e.getMessage());
    }
}
