package io.dense4j.optim;

import java.util.Arrays;

/**
 * An optimizer's state between updates: the number of updates applied so far and its per-parameter buffers
 * ({@link #SLOTS} floats per parameter, slot {@code j} of parameter {@code i} at {@code j * n + i}: SGD's momentum
 * buffer; Adam's and AdamW's first and second moments and the AMSGrad maximum; RMSprop's square average, momentum
 * buffer and (centered) gradient average). A value: what {@code Sequential.state()} snapshots, what a distributed
 * trainer broadcasts and averages, and what a checkpoint saves for an exact resume.
 *
 * @param step  updates applied so far (the bias correction of Adam depends on it)
 * @param slots {@code SLOTS * parameters} floats, or null when only the step is known (model files saved without
 *              optimizer state); null means zero state
 */
public record OptimizerState(long step, float[] slots) {
    /** Floats of state per parameter (D4J_OPT_STATE_PER_PARAM of the kernels). */
    public static final int SLOTS = 3;

    public OptimizerState {
        if (step < 0) {
            throw new IllegalArgumentException("optimizer step must be >= 0, got " + step);
        }
        if (slots != null && slots.length % SLOTS != 0) {
            throw new IllegalArgumentException("optimizer state holds " + slots.length + " floats, not a multiple of "
                    + SLOTS);
        }
        slots = slots == null ? null : slots.clone();
    }

    /** A fresh optimizer: step 0, zero state. */
    public static OptimizerState initial() {
        return new OptimizerState(0, null);
    }

    @Override
    public float[] slots() {
        return slots == null ? null : slots.clone();
    }

    public boolean hasSlots() {
        return slots != null;
    }

    /**
     * Checks the buffers, when there are any, against a model of {@code parameters} parameters: {@link #SLOTS}
     * floats per parameter, all finite. Returns this state.
     *
     * @throws IllegalArgumentException naming the problem
     */
    public OptimizerState checkFor(long parameters) {
        if (slots != null) {
            long expected = parameters * SLOTS;
            if (slots.length != expected) {
                throw new IllegalArgumentException("optimizer state holds " + slots.length + " floats, the model needs "
                        + expected);
            }
            for (int i = 0; i < slots.length; i++) {
                if (!Float.isFinite(slots[i])) {
                    throw new IllegalArgumentException("optimizer state value " + i + " is " + slots[i]);
                }
            }
        }
        return this;
    }

    /** The same step without the buffers (what a model file stores unless asked for the full state). */
    public OptimizerState withoutSlots() {
        return new OptimizerState(step, null);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OptimizerState s && s.step == step && Arrays.equals(s.slots, slots);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(step) * 31 + Arrays.hashCode(slots);
    }

    @Override
    public String toString() {
        return "OptimizerState[step=" + step + (slots == null ? "" : ", " + slots.length + " floats") + "]";
    }
}
