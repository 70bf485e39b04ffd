package io.dense4j.federated;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.model.ModelConfig;
import io.dense4j.train.Evaluation;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Clients and a coordinator in one JVM, connected by {@link InMemoryTransport} (so every message goes through the
 * wire format): the simulation of a federated task. One thread drives everything: each pass lets every online
 * client take one {@link FederatedClient#step()}; a pass in which nobody submits anything means everyone left is
 * waiting for clients that dropped out, and the current phase is closed as its deadline would close it.
 */
public final class FederatedSimulation implements AutoCloseable {
    /** Decides which clients are offline (dropped out), given the round and what they did last. */
    public interface Dropout {
        Dropout NONE = (client, round, last) -> false;

        boolean offline(String client, long round, FederatedClient.Step lastStep);
    }

    private final FederatedCoordinator coordinator;
    private final List<FederatedClient> clients = new ArrayList<>();
    private final Map<String, Object> modelConfig;
    private Dropout dropout = Dropout.NONE;
    /** Summaries already returned by {@link #runRound()}. */
    private int reported;

    /**
     * @param model      the task's model (compiled: its optimizer is the clients' local optimizer), initialized:
     *                   its weights are round 1's
     * @param partitions each client's data (the caller keeps ownership)
     * @param clientSeed seeds clients' local shuffling (client i uses clientSeed + i)
     * @param tap        sees every exchange (may be null)
     */
    public FederatedSimulation(String taskId, FederatedConfig config, Sequential model, List<Dataset> partitions,
                               long clientSeed, InMemoryTransport.Tap tap) {
        this.modelConfig = model.config().toMap();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < partitions.size(); i++) {
            ids.add(String.format("client-%02d", i));
        }
        SecureRandom random = new SecureRandom();
        coordinator = new FederatedCoordinator(taskId, config, modelConfig, model.parameters(), ids, random,
                Clock.systemUTC());
        for (int i = 0; i < partitions.size(); i++) {
            String id = ids.get(i);
            clients.add(FederatedClient.builder(taskId, id, partitions.get(i), new InMemoryTransport(coordinator, id, tap))
                    .seed(clientSeed + i).random(random).build());
        }
    }

    public FederatedSimulation dropout(Dropout d) {
        this.dropout = d;
        return this;
    }

    public FederatedCoordinator coordinator() {
        return coordinator;
    }

    public List<FederatedClient> clients() {
        return clients;
    }

    public void start() {
        coordinator.start();
    }

    /**
     * Drives the current round to its end and returns its summary, or returns the next summary not returned yet
     * (a round that aborted right after the previous one, e.g. because too few clients were sampled); null when
     * the task is finished and every round was returned.
     */
    public RoundSummary runRound() {
        while (coordinator.history().size() == reported && !coordinator.finished()) {
            long round = coordinator.round();
            int before = coordinator.history().size();
            boolean progress = false;
            for (FederatedClient c : clients) {
                if (dropout.offline(c.clientId(), round, c.lastStep())) {
                    continue;
                }
                FederatedClient.Step s = c.step();
                progress |= s == FederatedClient.Step.UPDATE_SENT || s == FederatedClient.Step.KEYS_ADVERTISED
                        || s == FederatedClient.Step.KEYS_SHARED || s == FederatedClient.Step.INPUT_SENT
                        || s == FederatedClient.Step.UNMASKED;
                if (coordinator.history().size() != before) {
                    break;
                }
            }
            if (!progress && coordinator.history().size() == before) {
                coordinator.closePhase(); // everyone online is waiting: the deadline passes
            }
        }
        List<RoundSummary> h = coordinator.history();
        return h.size() > reported ? h.get(reported++) : null;
    }

    /** A model with the current global weights (caller closes it). */
    public Sequential globalModel() {
        Sequential m = Sequential.fromConfig(ModelConfig.fromMap(modelConfig));
        m.setParameters(coordinator.weights());
        return m;
    }

    /** The current global model on {@code test}. */
    public Evaluation evaluate(Dataset test) {
        try (Sequential m = globalModel()) {
            return m.evaluate(test);
        }
    }

    @Override
    public void close() {
        for (FederatedClient c : clients) {
            c.close();
        }
    }
}
