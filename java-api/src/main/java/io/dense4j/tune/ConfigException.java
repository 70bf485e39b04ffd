package io.dense4j.tune;

/**
 * A model, training, tuning or job configuration that cannot be used, with the JSON path of the offending field
 * (e.g. {@code /tune/search_space//optimizer/lr: min must be > 0}). Servers answer it with 400.
 */
public final class ConfigException extends IllegalArgumentException {
    private final String path;

    public ConfigException(String path, String message) {
        super((path == null || path.isEmpty() ? "" : path + ": ") + message);
        this.path = path == null ? "" : path;
    }

    /**
     * What a failed trial or job reports of {@code e}: our own refusals (an illegal argument or state) by their
     * message; an unexpected error also by its class, which says more than its message may.
     */
    public static String reasonOf(Throwable e) {
        return (e instanceof IllegalArgumentException || e instanceof IllegalStateException) && e.getMessage() != null
                ? e.getMessage() : e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    /** JSON path of the field at fault ("" for the whole document). */
    public String path() {
        return path;
    }
}
