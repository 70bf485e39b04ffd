package io.dense4j.http;

import io.dense4j.Model;
import io.dense4j.registry.ModelVersionInfo;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One model version in memory, shared by the requests that use it.
 *
 * <p>Reference counted so that swapping versions never breaks a request: the routing table holds one
 * reference, every request holds one while it runs. {@link #retire()} drops the routing table's
 * reference when the version leaves the table; the model is closed (native memory freed) when the
 * last request using it finishes.
 */
final class LoadedVersion {
    private final String modelName;
    private final ModelVersionInfo info;
    private final Model model;
    private final DynamicBatcher batcher; // null when batching is off
    private final AtomicInteger refs = new AtomicInteger(1);
    private final AtomicBoolean retired = new AtomicBoolean();
    private final Runnable onClose;

    LoadedVersion(ModelVersionInfo info, Model model, DynamicBatcher batcher, Runnable onClose) {
        this.modelName = info.model();
        this.info = info;
        this.model = model;
        this.batcher = batcher;
        this.onClose = onClose;
    }

    String modelName() {
        return modelName;
    }

    int version() {
        return info.version();
    }

    ModelVersionInfo info() {
        return info;
    }

    int inputSize() {
        return model.inputSize();
    }

    int outputSize() {
        return model.outputSize();
    }

    Model model() {
        return model;
    }

    int queueDepth() {
        return batcher == null ? 0 : batcher.queueDepth();
    }

    /** Takes a reference for a request; false if the version has already been closed. */
    boolean acquire() {
        for (;;) {
            int r = refs.get();
            if (r <= 0) {
                return false;
            }
            if (refs.compareAndSet(r, r + 1)) {
                return true;
            }
        }
    }

    /** Gives a reference back; the last one closes the model. */
    void release() {
        if (refs.decrementAndGet() == 0) {
            if (batcher != null) {
                batcher.close();
            }
            model.close();
            onClose.run();
        }
    }

    /** Removes the routing table's reference (once). */
    void retire() {
        if (retired.compareAndSet(false, true)) {
            release();
        }
    }

    boolean isRetired() {
        return retired.get();
    }

    /** Runs the model on {@code rows}, through the batcher when batching is on. Caller holds a reference. */
    float[][] predict(float[][] rows) {
        return batcher != null ? batcher.submit(rows) : model.predict(rows);
    }
}
