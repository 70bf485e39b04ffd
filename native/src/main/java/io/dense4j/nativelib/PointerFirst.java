package io.dense4j.nativelib;

import org.bytedeco.javacpp.Pointer;

/**
 * Initializes JavaCPP's {@link Pointer} class before a binding loads its library. Pointer's static initializer takes
 * {@code Loader}'s lock, and loading a binding's library under that same lock needs Pointer initialized (its JNI
 * glue looks Pointer up). A job's first kernel call loading {@link CpuKernels} while a request allocated the process's
 * first tensor deadlocked both threads for good (seen as a restarted server that never answered). With Pointer
 * initialized first, outside Loader's lock, the two only wait for each other briefly.
 */
final class PointerFirst {
    private PointerFirst() {}

    static void initialize() {
        try {
            Class.forName(Pointer.class.getName(), true, Pointer.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new NoClassDefFoundError(e.getMessage());
        }
    }
}
