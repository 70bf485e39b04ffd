package io.dense4j.service.job;

import io.dense4j.data.Dataset;

/**
 * Loads an uploaded data set by its SHA-256 (the server's dataset store implements it; tests use files). The
 * caller owns and closes what it returns.
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

    /** @throws IllegalArgumentException when no such data set exists (a 404 for the job) */
    Loaded load(String sha256);
}
