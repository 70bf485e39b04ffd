package io.dense4j.backend;

import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.data.Dataset;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Architecture;
import io.dense4j.layers.Dense;
import io.dense4j.optim.OptimizerState;
import io.dense4j.optim.Optimizers;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Losses;
import io.dense4j.train.LossStats;
import io.dense4j.train.TrainingSession;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a third backend gets from {@link HostStateBackend} without writing it: the host buffers, the slot-count
 * check, compile's reset, the step, the closed state, and the device hooks called where a device copy must be
 * synchronized. The backend here has no device: it only records the hooks.
 */
class HostStateBackendTest {
    /** A backend with no kernels, recording its hooks. */
    static final class RecordingBackend extends HostStateBackend {
        final List<String> hooks = new ArrayList<>();

        RecordingBackend(Architecture arch) {
            super(arch);
        }

        @Override
        public Device device() {
            return Device.cpu();
        }

        @Override
        protected TrainingSession openSession(Dataset train, int nTrain, int batch) {
            hooks.add("openSession step " + step() + " " + optimizer().getClass().getSimpleName());
            setStep(step() + 5); // as if a session ran five updates
            return null;
        }

        @Override
        protected void syncParametersToHost() {
            hooks.add("syncParametersToHost");
        }

        @Override
        protected void parametersChanged() {
            hooks.add("parametersChanged");
        }

        @Override
        protected void syncOptimizerStateToHost() {
            hooks.add("syncOptimizerStateToHost");
        }

        @Override
        protected void optimizerStateChanged() {
            hooks.add("optimizerStateChanged");
        }

        @Override
        protected void compiled() {
            hooks.add("compiled");
        }

        @Override
        protected void releaseDevice() {
            hooks.add("releaseDevice");
        }

        @Override
        public LossStats forward(Tensor x, Tensor outputs, Tensor labels, Tensor targets) {
            throw new UnsupportedOperationException();
        }

        @Override
        public float[][] predict(float[][] rows) {
            throw new UnsupportedOperationException();
        }
    }

    static Architecture arch() {
        return Architecture.of(List.of(Dense.of(3, 4, Activation.RELU), Dense.of(2, Activation.SOFTMAX)));
    }

    @Test
    void keepsParametersAndOptimizerStateOnTheHostAndCallsTheHooks() {
        try (RecordingBackend b = new RecordingBackend(arch())) {
            int n = (int) b.architecture().parameterCount();
            assertEquals(3 * 4 + 4 + 4 * 2 + 2, n);
            assertArrayEquals(new float[n], b.parameters(), "allocated zeroed");
            float[] p = new float[n];
            for (int i = 0; i < n; i++) {
                p[i] = 0.5f * i - 3;
            }
            b.setParameters(p);
            assertArrayEquals(p, b.parameters());
            assertEquals(List.of("syncParametersToHost", "parametersChanged", "syncParametersToHost"), b.hooks);

            assertEquals(new OptimizerState(0, null), b.optimizerState(), "no buffers before compile");
            assertThrows(IllegalStateException.class, () -> b.startTraining(null, 1, 1), "not compiled");

            float[] slots = new float[n * OptimizerState.SLOTS];
            for (int i = 0; i < slots.length; i++) {
                slots[i] = i + 1;
            }
            b.hooks.clear();
            b.setOptimizerState(new OptimizerState(7, slots));
            assertEquals(new OptimizerState(7, slots), b.optimizerState());
            assertEquals(List.of("optimizerStateChanged", "syncOptimizerStateToHost"), b.hooks);
            b.setOptimizerState(new OptimizerState(9, null));
            assertEquals(new OptimizerState(9, new float[slots.length]), b.optimizerState(), "null buffers are zeros");

            b.setOptimizerState(new OptimizerState(4, slots));
            b.hooks.clear();
            b.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY);
            assertEquals(List.of("optimizerStateChanged", "compiled"), b.hooks);
            assertEquals(0, b.optimizerStep());
            assertEquals(new OptimizerState(0, new float[slots.length]), b.optimizerState(), "compile resets the state");

            try (Dataset d = Dataset.of(Tensor.zeros(2, 3), Tensor.ofInts(new int[] {0, 1}, 2))) {
                assertThrows(IllegalArgumentException.class, () -> b.startTraining(null, 1, 1), "no data");
                assertThrows(IllegalArgumentException.class, () -> b.startTraining(d, 3, 1), "3 rows of 2");
                assertEquals(3, b.hooks.size(), "refused before the backend's session");
                b.startTraining(d, 2, 1).close(); // the recording backend's session is no session (null) at all
            }
            assertEquals("openSession step 0 Adam", b.hooks.get(3));
            assertEquals(5, b.optimizerStep(), "the step a session reports");
        }
    }

    @Test
    void rejectsStateOfAnotherSizeAndEveryCallAfterClose() {
        RecordingBackend b = new RecordingBackend(arch());
        int n = (int) b.architecture().parameterCount();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.setOptimizerState(new OptimizerState(1, new float[(n - 1) * OptimizerState.SLOTS])));
        assertEquals("optimizer state holds " + (n - 1) * OptimizerState.SLOTS + " floats, the model needs "
                + n * OptimizerState.SLOTS, e.getMessage());
        assertEquals(new OptimizerState(0, null), b.optimizerState(), "a rejected state changes nothing");
        b.close();
        b.close();
        assertEquals(1, b.hooks.stream().filter("releaseDevice"::equals).count(), "released once");
        assertThrows(IllegalStateException.class, b::parameters);
        assertThrows(IllegalStateException.class, () -> b.setParameters(new float[n]));
        assertThrows(IllegalStateException.class, b::optimizerState);
        assertThrows(IllegalStateException.class, () -> b.compile(Optimizers.sgd(0.1), Losses.SPARSE_CATEGORICAL_CROSSENTROPY));
        assertThrows(IllegalStateException.class, () -> b.startTraining(null, 1, 1));
    }
}
