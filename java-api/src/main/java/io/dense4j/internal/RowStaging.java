package io.dense4j.internal;

import org.bytedeco.javacpp.FloatPointer;

/**
 * Inference over Java rows through fixed native staging buffers, shared by the backends' {@code predict}: rows are
 * packed into {@code in} a chunk at a time, the backend's forward pass fills {@code out}, and the outputs are
 * unpacked into {@code result}. The buffers bound the memory whatever the row count.
 */
public final class RowStaging {
    /** A backend's forward pass over the first {@code rows} rows of the staging input into the staging output. */
    @FunctionalInterface
    public interface Forward {
        void rows(int rows);
    }

    private RowStaging() {}

    /**
     * @param rows   input rows of {@code inputs} floats
     * @param result receives the outputs, rows of {@code outputs} floats
     * @param chunk  rows per forward call: {@code in} holds {@code chunk * inputs} floats, {@code out}
     *               {@code chunk * outputs}
     */
    public static void run(float[][] rows, float[][] result, int chunk, FloatPointer in, long inputs,
                           FloatPointer out, long outputs, Forward forward) {
        for (int start = 0; start < rows.length; start += chunk) {
            int n = Math.min(chunk, rows.length - start);
            for (int r = 0; r < n; r++) {
                in.position(r * inputs).put(rows[start + r]);
            }
            in.position(0);
            forward.rows(n);
            for (int r = 0; r < n; r++) {
                out.position(r * outputs).get(result[start + r]);
            }
            out.position(0);
        }
    }
}
