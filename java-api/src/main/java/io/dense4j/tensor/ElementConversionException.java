package io.dense4j.tensor;

/**
 * A value that {@link ElementCodec} refuses to convert: outside its type's range, not an integer where one is
 * needed, or a BOOL byte other than 0 and 1. {@link #problem()} says what, without naming the tensor (the caller
 * knows it), and {@link #index()} says where.
 */
public final class ElementConversionException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String problem;
    private final long index;

    ElementConversionException(String problem, long index) {
        super(index >= 0 ? problem + " at element " + index : problem);
        this.problem = problem;
        this.index = index;
    }

    ElementConversionException(String problem) {
        this(problem, -1);
    }

    /** What is wrong with the value, e.g. "300 is outside [0, 255]". */
    public String problem() {
        return problem;
    }

    /** The element's index among those one call converted (0 = the first); -1 for a single value. */
    public long index() {
        return index;
    }
}
