package io.dense4j.service.job;

/**
 * Moves an alias atomically. The server passes the same path its admin API uses (which also reloads what it
 * serves); tests and the Java API pass {@code registry::setAlias}.
 */
@FunctionalInterface
public interface Promoter {
    void setAlias(String model, String alias, int version, String actor);
}
