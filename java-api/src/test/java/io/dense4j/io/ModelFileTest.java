package io.dense4j.io;

import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.Sequential;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Losses;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and inconsistent model files: each is refused by {@link ModelFile#read} with a message naming the file
 * and the problem, before any model is built.
 */
class ModelFileTest {
    @TempDir
    Path dir;

    /** A good 3-2 model's tensors and metadata, altered by {@code edit}, written as {@code name}. */
    Path variant(String name, Consumer<Map<String, Tensor>> tensors, Consumer<Map<String, String>> meta)
            throws IOException {
        Path good = dir.resolve("good.d4j");
        try (Sequential m = Sequential.of(Dense.of(3, 2, Activation.SOFTMAX))) {
            m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY).initialize(1);
            m.save(good);
        }
        Path out = dir.resolve(name);
        try (SafeTensors.File f = SafeTensors.read(good)) {
            LinkedHashMap<String, Tensor> t = f.tensors();
            Map<String, String> md = new LinkedHashMap<>(f.metadata());
            try {
                tensors.accept(t);
                meta.accept(md);
                SafeTensors.write(out, t, md);
            } finally {
                t.values().forEach(Tensor::close);
            }
        }
        return out;
    }

    void refused(Path file, String... expected) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelFile.read(file));
        assertTrue(e.getMessage().contains(file.getFileName().toString()), "names the file: " + e.getMessage());
        for (String s : expected) {
            assertTrue(e.getMessage().contains(s), "says '" + s + "': " + e.getMessage());
        }
        assertThrows(ModelFormatException.class, () -> Sequential.load(file));
    }

    @Test
    void inconsistentTensorsAreRefused() throws IOException {
        refused(variant("missing.d4j", t -> t.remove("dense_0.bias").close(), m -> { }), "dense_0.bias is missing");
        refused(variant("shape.d4j", t -> t.put("dense_0.bias", Tensor.zeros(3)), m -> { }),
                "invalid model config: the architecture needs tensor dense_0.bias as FLOAT32 [2], the file holds FLOAT32 [3]");
        refused(variant("ints.d4j", t -> t.put("dense_0.bias", Tensor.zerosInt(2)), m -> { }), "INT32");
        refused(variant("extra.d4j", t -> t.put("dense_7.kernel", Tensor.zeros(1)), m -> { }),
                "[dense_7.kernel] do not belong");
        refused(variant("nan.d4j", t -> t.put("dense_0.bias", Tensor.of(new float[] {0, Float.NaN}, 2)), m -> { }),
                "dense_0.bias holds NaN at index 1");
        refused(variant("optstate.d4j", t -> t.put(ModelFile.OPTIMIZER_STATE, Tensor.zeros(3, 7)), m -> { }),
                "needs tensor optimizer.state as FLOAT32 [3, 8], the file holds FLOAT32 [3, 7]");
    }

    @Test
    void inconsistentMetadataIsRefused() throws IOException {
        refused(variant("names.d4j", t -> { }, m -> m.put("class_names", "[\"a\",\"b\",\"c\"]")), "3 class names for 2 outputs");
        refused(variant("version.d4j", t -> { }, m -> m.put("config", m.get("config")
                .replace("\"config_version\":2", "\"config_version\":3"))), "config_version 3 is not supported");
        refused(variant("loss.d4j", t -> { }, m -> m.put("config", m.get("config")
                .replace("sparse_categorical_crossentropy", "binary_crossentropy"))), "needs a sigmoid");
        refused(variant("json.d4j", t -> { }, m -> m.put("config", "{\"class_name\": ")), "invalid model config");
        refused(variant("format.d4j", t -> { }, m -> m.put("format_version", "2")), "unsupported Dense4J format version 2");
        refused(variant("step.d4j", t -> { }, m -> m.put("optimizer_step", "many")), "optimizer_step");
        // a Keras file where a model file is expected: named, with what to run
        Path h5 = java.nio.file.Files.write(dir.resolve("keras.h5"), new byte[] {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n', 0, 0});
        refused(h5, "a Keras HDF5 file", "dense4j import keras.h5");
        Path zip = java.nio.file.Files.write(dir.resolve("keras.keras"), new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0});
        refused(zip, "a zip archive", "dense4j import");
        Path onnx = java.nio.file.Files.write(dir.resolve("m.onnx"), new byte[] {8, 8, 18, 7, 100, 101, 110, 115, 101, 52, 106});
        refused(onnx, "not a Dense4J model file");
        // found by a fuzz of saved files: a config of JSON null read as no config (NullPointerException), and a
        // metadata value of any length was quoted whole in the message
        refused(variant("null.d4j", t -> { }, m -> m.put("config", "null")), "a model config must be a JSON object");
        refused(variant("array.d4j", t -> { }, m -> m.put("config", "[1]")), "a model config must be a JSON object");
        String huge = "x".repeat(100_000);
        for (String key : List.of("format", "format_version", "optimizer_step")) {
            Path file = variant(key + "-huge.d4j", t -> { }, m -> m.put(key, huge));
            refused(file, "(100000 characters)");
            assertTrue(assertThrows(ModelFormatException.class, () -> ModelFile.read(file)).getMessage().length() < 400);
        }
        refused(variant("uncompiled.d4j", t -> t.put(ModelFile.OPTIMIZER_STATE, Tensor.zeros(3, 8)),
                m -> m.put("config", m.get("config").replaceAll(",\"compile_config\":.*}$", "}"))),
                "optimizer state without an optimizer");
    }

    @Test
    void aValidFileReadsAsAState() throws IOException {
        Path ok = variant("ok.d4j", t -> { }, m -> { });
        var state = ModelFile.read(ok);
        assertEquals(8, state.parameters().length);
        assertEquals(List.of(), state.classNames());
        assertFalse(state.optimizer().hasSlots());
    }
}
