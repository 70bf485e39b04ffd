package io.dense4j.service.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.Sequential;
import io.dense4j.io.SafeTensors;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Fit;
import io.dense4j.train.Losses;
import io.dense4j.tune.Json;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Early stopping's state written with a checkpoint reads back exactly; a damaged one is refused, never half-used. */
class EarlyStoppingStatesTest {
    @TempDir
    Path dir;

    static Sequential model() {
        Sequential m = Sequential.of(Dense.of(3, 4, Activation.RELU), Dense.of(2, Activation.SOFTMAX));
        m.compile(Optimizers.sgd(0.1), Losses.SPARSE_CATEGORICAL_CROSSENTROPY);
        m.setParameters(new float[] {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f, 0.9f, 1.0f, -1.1f, 1.2f,
                0.01f, 0.02f, 0.03f, 0.04f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 0.5f, 0.25f});
        return m;
    }

    /** Two stoppers after three epochs: one restores its best weights, one does not. */
    static List<EarlyStopping> trained(Sequential m) {
        EarlyStopping restoring = new EarlyStopping("val_loss", 3, 0, true);
        EarlyStopping counting = new EarlyStopping("val_accuracy", 5, 0.01, false);
        for (EarlyStopping s : List.of(restoring, counting)) {
            s.onTrainBegin(m, Fit.epochs(10), 1);
            s.onEpochEnd(m, new EpochLog(0, 1, 0.5, 0.9, 0.50, 0.1, 1));
            s.onEpochEnd(m, new EpochLog(1, 1, 0.5, 0.7000000000000001, 0.505, 0.1, 1));
            s.onEpochEnd(m, new EpochLog(2, 1, 0.5, 0.8, 0.49, 0.1, 1));
        }
        return List.of(restoring, counting);
    }

    @Test
    void statesAndBestWeightsReadBackExactly() {
        try (Sequential m = model()) {
            List<EarlyStopping> before = trained(m);
            Path file = EarlyStoppingStates.weightsFile(dir.resolve("checkpoint-a.d4j"));
            assertEquals("checkpoint-a.early-stopping.safetensors", file.getFileName().toString());
            ObjectNode ck = Json.MAPPER.createObjectNode();
            ck.set("early_stopping", EarlyStoppingStates.save(before, file));
            assertTrue(EarlyStoppingStates.filesPresent(ck));

            List<EarlyStopping> after = List.of(new EarlyStopping("val_loss", 3, 0, true),
                    new EarlyStopping("val_accuracy", 5, 0.01, false));
            EarlyStoppingStates.resume((ObjectNode) Json.parse(ck.toString()), after);
            for (int i = 0; i < 2; i++) {
                after.get(i).onTrainBegin(m, Fit.epochs(10).initialEpoch(3), 1);
                EarlyStopping.State a = before.get(i).state();
                EarlyStopping.State b = after.get(i).state();
                assertEquals(a.epochsWithoutImprovement(), b.epochsWithoutImprovement());
                assertEquals(a.best(), b.best(), 0.0, "the best value, to the last bit");
                assertEquals(a.bestEpoch(), b.bestEpoch());
                if (a.bestWeights() == null) {
                    assertNull(b.bestWeights());
                } else {
                    assertArrayEquals(a.bestWeights(), b.bestWeights());
                }
            }
            assertEquals(1, after.get(0).epochsWithoutImprovement());
            assertEquals(1, after.get(0).bestEpoch());
        }
    }

    @Test
    void aDamagedStateIsRefused() throws Exception {
        try (Sequential m = model()) {
            List<EarlyStopping> stoppers = trained(m);
            Path file = EarlyStoppingStates.weightsFile(dir.resolve("checkpoint-b.d4j"));
            ObjectNode good = Json.MAPPER.createObjectNode();
            good.set("early_stopping", EarlyStoppingStates.save(stoppers, file));
            List<EarlyStopping> fresh = List.of(new EarlyStopping("val_loss", 3, 0, true),
                    new EarlyStopping("val_accuracy", 5, 0.01, false));

            assertThrows(IllegalStateException.class, () -> EarlyStoppingStates.resume(good, fresh.subList(0, 1)),
                    "another number of early_stopping callbacks");
            for (String[] edit : new String[][] {
                    {"\"best_epoch\":1", "\"best_epoch\":\"1\""}, {"\"epochs_without_improvement\":1", "\"epochs_without_improvement\":1.5"},
                    {"\"epochs_without_improvement\":1", "\"epochs_without_improvement\":-4"},
                    {"\"best\":0.7000000000000001", "\"best\":null"}, {"\"states\":[", "\"states\":{\"x\":["}}) {
                String text = good.toString();
                assertTrue(text.contains(edit[0]), text);
                String bad = text.replace(edit[0], edit[1]);
                if (edit[0].startsWith("\"states\"")) {
                    bad = bad.replace("}],\"weights_file\"", "}]},\"weights_file\"");
                }
                ObjectNode ck = (ObjectNode) Json.parse(bad);
                assertThrows(IllegalStateException.class, () -> EarlyStoppingStates.resume(ck, fresh), bad);
            }
            // best weights of another shape in the file
            try (Tensor t = Tensor.zeros(2, 13)) {
                SafeTensors.write(file, new java.util.LinkedHashMap<>(Map.of("early_stopping.0.best_weights", t)));
            }
            assertThrows(IllegalStateException.class, () -> EarlyStoppingStates.resume(good, fresh));
            // the weights file gone: the checkpoint does not count (the job starts over)
            java.nio.file.Files.delete(file);
            assertTrue(!EarlyStoppingStates.filesPresent(good));
        }
    }
}
