package io.dense4j.spark;

import io.dense4j.train.Callback;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Fit;
import io.dense4j.train.TrainableModel;
import java.io.PrintStream;

/**
 * Progress of a fit as lines (a Spark driver's output is a log, not a terminal): a line every few seconds with the
 * local steps done and the running loss and accuracy, and Keras's summary line after every epoch.
 */
public final class ConsoleProgress implements Callback {
    private final PrintStream out;
    private final long everyNanos;
    private int epochs;
    private int stepsPerEpoch;
    private long last;

    /** Lines to {@code out}, progress at most every {@code seconds} seconds (0: summaries only). */
    public ConsoleProgress(PrintStream out, double seconds) {
        this.out = out;
        this.everyNanos = (long) (seconds * 1e9);
    }

    @Override
    public void onTrainBegin(TrainableModel model, Fit fit, int stepsPerEpoch) {
        this.epochs = fit.epochs();
        this.stepsPerEpoch = stepsPerEpoch;
        this.last = System.nanoTime();
    }

    @Override
    public void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {
        long now = System.nanoTime();
        if (everyNanos > 0 && now - last >= everyNanos && stepsDone < stepsPerEpoch) {
            last = now;
            out.printf("epoch %d/%d - step %d/%d - loss %.4f - accuracy %.4f%n", epoch + 1, epochs, stepsDone,
                    stepsPerEpoch, loss, accuracy);
        }
    }

    @Override
    public boolean onEpochEnd(TrainableModel model, EpochLog log) {
        out.println(log.summary(epochs));
        last = System.nanoTime();
        return false;
    }
}
