package io.dense4j.cli;

import io.dense4j.train.Callback;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Fit;
import io.dense4j.train.TrainableModel;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar per epoch (steps, running loss and accuracy), then Keras's one-line epoch summary. */
final class ProgressCallback implements Callback {
    private final int epochs;
    private final boolean bars;
    private int stepsPerEpoch;
    private ProgressBar bar;

    ProgressCallback(int epochs, boolean bars) {
        this.epochs = epochs;
        this.bars = bars;
    }

    @Override
    public void onTrainBegin(TrainableModel model, Fit fit, int stepsPerEpoch) {
        this.stepsPerEpoch = stepsPerEpoch;
    }

    @Override
    public void onEpochBegin(int epoch) {
        if (bars) {
            bar = new ProgressBarBuilder().setTaskName(String.format("epoch %d/%d", epoch + 1, epochs))
                    .setInitialMax(stepsPerEpoch).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200)
                    .setUnit(" steps", 1).continuousUpdate().build();
        }
    }

    @Override
    public void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {
        if (bar != null) {
            bar.stepTo(stepsDone);
            bar.setExtraMessage(String.format("loss %.4f acc %.4f", loss, accuracy));
        }
    }

    @Override
    public boolean onEpochEnd(TrainableModel model, EpochLog log) {
        if (bar != null) {
            bar.close();
            bar = null;
        }
        System.out.println(log.summary(epochs));
        return false;
    }
}
