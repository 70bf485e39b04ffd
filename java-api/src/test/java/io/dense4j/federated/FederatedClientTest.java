package io.dense4j.federated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Sequential;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.TrainingPlan;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Losses;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The client against a scripted server: its policies and its checks of what the server sends. */
class FederatedClientTest {
    static final TrainingPlan PLAIN = new TrainingPlan(1, 8, 0, 1, 0, false, 100, false);

    @Test
    void declinesPlainRoundsWhenItRequiresSecureAggregation() {
        try (TinyTask t = new TinyTask(40)) {
            List<Message.ClientMessage> sent = new ArrayList<>();
            Message.RoundTask task = new Message.RoundTask("tiny", 1, new byte[16], t.model.config().toMap(), PLAIN, t.model.parameters());
            try (FederatedClient c = FederatedClient.builder("tiny", "a", t.partitions.get(0), m -> {
                sent.add(m);
                return task;
            }).requireSecureAggregation(true).build()) {
                assertEquals(FederatedClient.Step.DECLINED, c.step());
                assertEquals(FederatedClient.Step.DECLINED, c.step());
                assertTrue(sent.stream().allMatch(m -> m instanceof Message.Poll), "only polls: no update left the client");
                assertEquals(null, c.lastTraining(), "it did not even train");
            }
        }
    }

    @Test
    void refusesModelsAndWeightsThatDoNotFit() {
        try (TinyTask t = new TinyTask(40)) {
            float[] wrongCount = new float[t.model.parameters().length - 1];
            float[] nan = t.model.parameters();
            nan[2] = Float.NaN;
            for (float[] w : List.of(wrongCount, nan)) {
                Message.RoundTask task = new Message.RoundTask("tiny", 1, new byte[16], t.model.config().toMap(), PLAIN, w);
                try (FederatedClient c = FederatedClient.builder("tiny", "a", t.partitions.get(0), m -> task).build()) {
                    assertEquals(ProtocolException.Code.BAD_MESSAGE, assertThrows(ProtocolException.class, c::step).code());
                }
            }
            try (Sequential other = Sequential.of(Dense.of(9, 3, Activation.SOFTMAX))) {
                other.compile(Optimizers.sgd(0.1), Losses.SPARSE_CATEGORICAL_CROSSENTROPY);
                Message.RoundTask task = new Message.RoundTask("tiny", 1, new byte[16], other.config().toMap(), PLAIN, other.parameters());
                try (FederatedClient c = FederatedClient.builder("tiny", "a", t.partitions.get(0), m -> task).build()) {
                    ProtocolException e = assertThrows(ProtocolException.class, c::step);
                    assertTrue(e.getMessage().contains("takes 9 features, this client's data has 7"), e.getMessage());
                }
            }
            // an answer for another task
            try (FederatedClient c = FederatedClient.builder("tiny", "a", t.partitions.get(0),
                    m -> new Message.Wait("other", 1, "x", 10)).build()) {
                assertThrows(ProtocolException.class, c::step);
            }
        }
    }
}
