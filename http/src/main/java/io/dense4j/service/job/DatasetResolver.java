package io.dense4j.service.job;

import io.dense4j.data.Dataset;
import io.dense4j.data.TensorAllocation;

/**
 * Finds an uploaded data set by its SHA-256 and reads it (the server's dataset store implements it; tests use
 * generated rows). In two steps, so that a job can read at its own low priority: {@link #locate} reads the state
 * store (on the job thread), the {@link Reader} it returns touches only the data set's files.
 */
@FunctionalInterface
public interface DatasetResolver {
    /** The rows of a data set: its training part, and its own test part when it has one (IDX t10k files). */
    record Loaded(Dataset train, Dataset test) implements AutoCloseable {
        public boolean hasTestSplit() {
            return test != null;
        }

        @Override
        public void close() {
            train.close();
            if (test != null) {
                test.close();
            }
        }
    }

    /**
     * Reads one located data set: checks and decodes its files, and takes no lock that another thread of the server
     * takes, its native tensors allocated through the {@link TensorAllocation} it is given. The caller owns and
     * closes what it returns.
     */
    @FunctionalInterface
    interface Reader {
        Loaded read(TensorAllocation allocation);
    }

    /**
     * Looks up a data set (reads the state store).
     *
     * @throws IllegalArgumentException when no such data set exists (a 404 for the job)
     */
    Reader locate(String sha256);

    /** Locates and reads a data set on the calling thread. */
    default Loaded load(String sha256) {
        return locate(sha256).read(TensorAllocation.DIRECT);
    }
}
