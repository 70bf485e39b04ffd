package io.dense4j.internal;

import java.util.Objects;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * The only way from a {@code Tensor} to its native memory, for the backends (not exported: application code
 * never sees a JavaCPP pointer). {@code Tensor} registers its accessor when its class initializes, so this package
 * needs no compile-time dependency on it (no package cycle).
 */
public final class NativeMemory {
    /** Implemented once, by {@code io.dense4j.tensor.Tensor}. */
    public interface Access {
        /** A view (position 0, not owning) of a float32 tensor's memory; throws for another dtype or a closed tensor. */
        FloatPointer floats(Object tensor);

        /** A view (position 0, not owning) of an int32 tensor's memory. */
        IntPointer ints(Object tensor);

        /** A view (position 0, not owning) of a uint8 tensor's memory. */
        BytePointer bytes(Object tensor);
    }

    private static volatile Access access;

    private NativeMemory() {}

    /** Called by Tensor's static initializer; a second registration is refused. */
    public static synchronized void register(Access a) {
        if (access != null) {
            throw new IllegalStateException("native memory access is already registered");
        }
        access = Objects.requireNonNull(a);
    }

    /** The float32 memory of {@code tensor} (a fresh view: callers may move its position freely). */
    public static FloatPointer floats(Object tensor) {
        return access().floats(tensor);
    }

    /** The int32 memory of {@code tensor} (a fresh view). */
    public static IntPointer ints(Object tensor) {
        return access().ints(tensor);
    }

    /** The uint8 memory of {@code tensor} (a fresh view). */
    public static BytePointer bytes(Object tensor) {
        return access().bytes(tensor);
    }

    /** {@link #floats} of an optional tensor argument: null for null. */
    public static FloatPointer floatsOrNull(Object tensor) {
        return tensor == null ? null : floats(tensor);
    }

    /** {@link #ints} of an optional tensor argument: null for null. */
    public static IntPointer intsOrNull(Object tensor) {
        return tensor == null ? null : ints(tensor);
    }

    private static Access access() {
        Access a = access;
        if (a == null) {
            throw new IllegalStateException("no Tensor was created yet"); // a tensor argument initializes its class
        }
        return a;
    }
}
