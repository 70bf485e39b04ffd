package io.dense4j.train;

/**
 * Metrics of one epoch. Training loss and accuracy are the running means over the epoch's batches (as
 * Keras reports them); validation figures are computed after the epoch; NaN where there is no validation.
 */
public record EpochLog(int epoch, double loss, double accuracy, double valLoss, double valAccuracy,
                       double learningRate, double seconds) {

    public boolean hasValidation() {
        return !Double.isNaN(valLoss);
    }

    /** A metric by its Keras name: loss, accuracy, val_loss, val_accuracy. */
    public double get(String name) {
        return switch (name) {
            case "loss" -> loss;
            case "accuracy" -> accuracy;
            case "val_loss" -> valLoss;
            case "val_accuracy" -> valAccuracy;
            default -> throw new IllegalArgumentException("unknown metric '" + name
                    + "': expected loss, accuracy, val_loss or val_accuracy");
        };
    }

    /** Refuses a name that {@link #get} would not know (for callbacks that monitor a metric). */
    static void checkMetricName(String name) {
        new EpochLog(0, 0, 0, 0, 0, 0, 0).get(name);
    }

    /** One summary line, as printed after each epoch. */
    public String summary(int totalEpochs) {
        // accuracy is NaN where it is not defined (regression targets): left out, as Keras leaves out what it lacks
        StringBuilder b = new StringBuilder(String.format("epoch %d/%d - loss %.4f", epoch + 1, totalEpochs, loss));
        if (!Double.isNaN(accuracy)) {
            b.append(String.format(" - accuracy %.4f", accuracy));
        }
        if (hasValidation()) {
            b.append(String.format(" - val_loss %.4f", valLoss));
            if (!Double.isNaN(valAccuracy)) {
                b.append(String.format(" - val_accuracy %.4f", valAccuracy));
            }
        }
        b.append(String.format(" - %.2fs", seconds));
        return b.toString();
    }
}
