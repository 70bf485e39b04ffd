package io.dense4j.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What fit returns: one {@link EpochLog} per epoch run (fewer than asked when early stopping fired or the fit was
 * cancelled; an epoch cancelled half-way has no log).
 */
public final class History {
    private final List<EpochLog> epochs = new ArrayList<>();
    private boolean stoppedEarly;
    private boolean cancelled;

    public void add(EpochLog log) {
        epochs.add(log);
    }

    /** Called by fit when a callback stopped training before the last epoch. */
    public void markStoppedEarly() {
        stoppedEarly = true;
    }

    /** Called by fit (or a distributed trainer's loop) when its {@link Cancellation} stopped it. */
    public void markCancelled() {
        cancelled = true;
    }

    /** Whether a {@link Cancellation} stopped the fit. */
    public boolean cancelled() {
        return cancelled;
    }

    public List<EpochLog> epochs() {
        return Collections.unmodifiableList(epochs);
    }

    public EpochLog last() {
        if (epochs.isEmpty()) {
            throw new IllegalStateException("no epoch was run");
        }
        return epochs.get(epochs.size() - 1);
    }

    public boolean stoppedEarly() {
        return stoppedEarly;
    }

    /** Keras's history dict: metric name to its value per epoch. */
    public Map<String, List<Double>> asMap() {
        Map<String, List<Double>> m = new LinkedHashMap<>();
        for (String k : List.of("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")) {
            List<Double> vals = new ArrayList<>();
            for (EpochLog e : epochs) {
                vals.add(switch (k) {
                    case "learning_rate" -> e.learningRate();
                    case "seconds" -> e.seconds();
                    default -> e.get(k);
                });
            }
            if (k.startsWith("val_") && vals.stream().allMatch(v -> v.isNaN())) {
                continue;
            }
            m.put(k, vals);
        }
        return m;
    }

    public double totalSeconds() {
        return epochs.stream().mapToDouble(EpochLog::seconds).sum();
    }
}
