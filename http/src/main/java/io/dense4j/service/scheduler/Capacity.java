package io.dense4j.service.scheduler;

import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What a server offers to jobs: CPU threads and whole GPUs (by device id), minus the CPU threads kept for
 * inference so that serving stays responsive while jobs train.
 *
 * @param cpus         CPU threads of the server ({@code --cpus})
 * @param gpus         GPU device ids ({@code --gpus 0,1})
 * @param reservedCpus threads never given to jobs (the inference reserve)
 */
public record Capacity(int cpus, SortedSet<Integer> gpus, int reservedCpus) {
    public Capacity {
        if (cpus < 1) {
            throw new IllegalArgumentException("cpus must be >= 1, got " + cpus);
        }
        if (reservedCpus < 0 || reservedCpus >= cpus) {
            throw new IllegalArgumentException("the inference reserve must be in [0, " + (cpus - 1) + "] threads of "
                    + cpus + ", got " + reservedCpus + " (jobs need at least one thread)");
        }
        for (int g : gpus) {
            if (g < 0) {
                throw new IllegalArgumentException("GPU ids are >= 0, got " + g);
            }
        }
        gpus = java.util.Collections.unmodifiableSortedSet(new TreeSet<>(gpus));
    }

    public static Capacity of(int cpus, List<Integer> gpus, int reservedCpus) {
        if (gpus.size() != new TreeSet<>(gpus).size()) {
            throw new IllegalArgumentException("GPU ids repeat: " + gpus);
        }
        return new Capacity(cpus, new TreeSet<>(gpus), reservedCpus);
    }

    /**
     * The reserve as the command line takes it: a thread count ("1") or a share of the cpus ("25%", rounded up,
     * so any non-zero share keeps at least one thread).
     */
    public static int parseReserve(String reserve, int cpus) {
        String r = reserve.trim();
        try {
            if (r.endsWith("%")) {
                double pct = Double.parseDouble(r.substring(0, r.length() - 1));
                if (!(pct >= 0 && pct < 100)) {
                    throw new IllegalArgumentException("the inference reserve must be in [0%, 100%), got " + reserve);
                }
                return (int) Math.ceil(cpus * pct / 100 - 1e-9);
            }
            return Integer.parseInt(r);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("the inference reserve is a thread count or a percentage, got '"
                    + reserve + "'");
        }
    }

    /** Threads jobs may use together. */
    public int schedulableCpus() {
        return cpus - reservedCpus;
    }
}
