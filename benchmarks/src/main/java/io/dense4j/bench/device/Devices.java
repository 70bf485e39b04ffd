package io.dense4j.bench.device;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Finds the implementation of a {@code device} parameter value: "cpu", "java", or a provider's (e.g. "cuda"). */
public final class Devices {
    private Devices() {}

    /** The devices the suite knows of, in report order. */
    public static final List<String> KNOWN = List.of("java", "cpu", "cuda");

    /** Null when {@code device} can run here, otherwise the reason it cannot. */
    public static String unavailableReason(String device) {
        switch (device) {
            case "cpu":
                try {
                    io.dense4j.nativelib.CpuKernels.load();
                    return null;
                } catch (Throwable t) {
                    return "the CPU kernel library did not load: " + t;
                }
            case "java":
                return null;
            default:
                DeviceOpsProvider p = provider(device);
                if (p == null) {
                    return "no " + device + " implementation on the class path (no DeviceOpsProvider for '" + device
                            + "'" + ("cuda".equals(device) ? "; the CUDA Java binding is not built into this jar" : "")
                            + ")";
                }
                return p.unavailableReason();
        }
    }

    /** Opens a device, or throws {@link DeviceUnavailableException} saying why it cannot run here. */
    public static DeviceOps open(String device) {
        String reason = unavailableReason(device);
        if (reason != null) {
            throw new DeviceUnavailableException("device '" + device + "' skipped: " + reason);
        }
        return switch (device) {
            case "cpu" -> new CpuOps();
            case "java" -> new JavaOps();
            default -> provider(device).open();
        };
    }

    /** Devices among {@link #KNOWN} (and any provider's) that can run here. */
    public static List<String> available() {
        List<String> r = new ArrayList<>();
        List<String> all = new ArrayList<>(KNOWN);
        for (DeviceOpsProvider p : ServiceLoader.load(DeviceOpsProvider.class)) {
            if (!all.contains(p.device())) {
                all.add(p.device());
            }
        }
        for (String d : all) {
            if (unavailableReason(d) == null) {
                r.add(d);
            }
        }
        return r;
    }

    private static DeviceOpsProvider provider(String device) {
        for (DeviceOpsProvider p : ServiceLoader.load(DeviceOpsProvider.class)) {
            if (p.device().equals(device)) {
                return p;
            }
        }
        return null;
    }
}
