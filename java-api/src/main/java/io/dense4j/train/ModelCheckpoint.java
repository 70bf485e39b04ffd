package io.dense4j.train;

import io.dense4j.Sequential;
import java.nio.file.Path;

/**
 * Saves the model after every epoch (or only when the monitored metric improved). The path may contain
 * {epoch}, replaced by the 1-based epoch number. Saves are atomic, so a crash never leaves a torn file.
 */
public final class ModelCheckpoint implements Callback {
    private final String pathPattern;
    private final String monitor;
    private final boolean bestOnly;
    private double best = Double.NaN;

    private ModelCheckpoint(String pathPattern, String monitor, boolean bestOnly) {
        this.pathPattern = pathPattern;
        this.monitor = monitor;
        this.bestOnly = bestOnly;
    }

    /** Saves after every epoch. */
    public static ModelCheckpoint everyEpoch(String pathPattern) {
        return new ModelCheckpoint(pathPattern, "val_loss", false);
    }

    /** Saves only when {@code monitor} improved (lower loss, higher accuracy). */
    public static ModelCheckpoint bestOnly(String pathPattern, String monitor) {
        return new ModelCheckpoint(pathPattern, monitor, true);
    }

    public Path pathFor(int epoch) {
        return Path.of(pathPattern.replace("{epoch}", Integer.toString(epoch + 1)));
    }

    @Override
    public boolean onEpochEnd(Sequential model, EpochLog log) {
        if (bestOnly) {
            double v = log.get(monitor);
            boolean max = monitor.contains("accuracy");
            if (!Double.isNaN(best) && (max ? v <= best : v >= best)) {
                return false;
            }
            best = v;
        }
        model.save(pathFor(log.epoch()));
        return false;
    }
}
