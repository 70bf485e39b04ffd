package io.dense4j.federated.protocol;

/**
 * Size limits a decoder enforces before it allocates anything: the frame, its JSON header, its vector, the entries
 * of any list and the length of any string. The server derives tight limits from the task (exact vector length,
 * number of enrolled clients); {@link #DEFAULT} is a generous ceiling for a client.
 */
public record Limits(long maxFrameBytes, int maxHeaderBytes, int maxVectorLength, int maxListEntries,
                     int maxStringLength) {
    public static final Limits DEFAULT = new Limits(1L << 30, 16 << 20, 1 << 27, 100_000, 1 << 20);

    public Limits {
        if (maxFrameBytes < 64 || maxHeaderBytes < 64 || maxVectorLength < 1 || maxListEntries < 1 || maxStringLength < 1) {
            throw new IllegalArgumentException("limits must be positive (frame and header at least 64 bytes)");
        }
    }

    /** Limits for a task: vectors of exactly-known length, lists bounded by the number of clients. */
    public static Limits forTask(int vectorLength, int clients, int modelConfigBytes) {
        int header = 64 * 1024 + 256 * Math.max(clients, 1) + 2 * modelConfigBytes;
        return new Limits(header + 16 + 4L * vectorLength, header, vectorLength, Math.max(clients, 1), 4096);
    }
}
