package io.dense4j.backend.kernels;

import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.layers.Activation;
import io.dense4j.nativelib.CpuKernels;
import io.dense4j.nativelib.CudaKernels;
import io.dense4j.optim.Adam;
import io.dense4j.optim.AdamW;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.optim.RmsProp;
import io.dense4j.optim.Sgd;
import io.dense4j.train.Loss;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The op catalogue is defined once, by the enums of native/include/dense4j.h; this test parses the headers and
 * checks every other copy against it: dense4j_cuda.h, the JavaCPP bindings (CpuKernels, CudaKernels), the API's
 * mapping ({@link OpCodes}: every activation, loss and optimizer of the API has a kernel and every kernel op an
 * API value) and the order of the optimizer hyperparameters, read from the header's comments.
 */
class OpCatalogueTest {
    static final Path INCLUDE = Path.of("..", "native", "include");
    /** dense4j.h: D4J_ACT_RELU -> 1, ..., D4J_OPT_HP_COUNT -> 5. */
    static Map<String, Integer> cpu;
    /** dense4j_cuda.h, without its D4J_CUDA_ prefix: ACT_RELU -> 1, ... */
    static Map<String, Integer> cuda;
    /** dense4j.h's hyperparameter names per optimizer: SGD -> [momentum, dampening, weight_decay, nesterov]. */
    static Map<String, List<String>> hp;

    static final Map<Loss, String> LOSS_NAMES = Map.of(Loss.SPARSE_CATEGORICAL_CROSSENTROPY, "SPARSE_CCE",
            Loss.CATEGORICAL_CROSSENTROPY, "CCE", Loss.BINARY_CROSSENTROPY, "BCE", Loss.MEAN_SQUARED_ERROR, "MSE");

    @BeforeAll
    static void parseHeaders() throws IOException {
        String h = Files.readString(INCLUDE.resolve("dense4j.h"));
        cpu = constants(h, "D4J_");
        Map<String, Integer> c = constants(Files.readString(INCLUDE.resolve("dense4j_cuda.h")), "D4J_CUDA_");
        cuda = new TreeMap<>();
        c.forEach((k, v) -> cuda.put(k.substring("D4J_CUDA_".length()), v));
        hp = new LinkedHashMap<>();
        Matcher m = Pattern.compile("D4J_OPT_(\\w+)\\s*=\\s*\\d+,?\\s*/\\*\\s*hp\\s*=\\s*\\{([^}]*)}").matcher(h);
        while (m.find()) {
            List<String> names = new ArrayList<>();
            // "weight_decay (L2, added to the gradient)", "nesterov(0|1)": the name is what precedes the parenthesis
            for (String part : m.group(2).replaceAll("\\([^)]*\\)", "").split(",")) {
                names.add(part.trim());
            }
            hp.put(m.group(1), names);
        }
        assertEquals(4, hp.size(), "hyperparameter comments of dense4j.h: " + hp);
    }

    /** Every {@code NAME = number} of an enum and every {@code #define NAME number} with the prefix. */
    static Map<String, Integer> constants(String header, String prefix) {
        String code = header.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ");
        Map<String, Integer> out = new TreeMap<>();
        Matcher enums = Pattern.compile("(?s)enum\\s*\\{(.*?)}").matcher(code);
        while (enums.find()) {
            for (String entry : enums.group(1).split(",")) {
                Matcher e = Pattern.compile("^\\s*(" + prefix + "\\w+)\\s*=\\s*(-?\\d+)\\s*$").matcher(entry);
                if (e.find()) {
                    assertNull(out.put(e.group(1), Integer.parseInt(e.group(2))), "duplicate " + e.group(1));
                }
            }
        }
        Matcher d = Pattern.compile("#define\\s+(" + prefix + "\\w+)\\s+(\\d+)").matcher(code);
        while (d.find()) {
            out.put(d.group(1), Integer.parseInt(d.group(2)));
        }
        assertFalse(out.isEmpty(), "no constants found with prefix " + prefix);
        return out;
    }

    static Map<String, Integer> withPrefix(Map<String, Integer> all, String prefix) {
        Map<String, Integer> out = new TreeMap<>();
        all.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }

    static Map<String, Integer> javaConstants(Class<?> binding) throws IllegalAccessException {
        Map<String, Integer> out = new TreeMap<>();
        for (Field f : binding.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (f.getType() == int.class && Modifier.isStatic(mod) && Modifier.isFinal(mod) && Modifier.isPublic(mod)) {
                out.put(f.getName(), f.getInt(null));
            }
        }
        return out;
    }

    @Test
    void theCudaHeaderRepeatsTheCpuCodes() {
        for (String kind : List.of("ACT_", "LOSS_", "OPT_")) {
            assertEquals(withPrefix(cpu, "D4J_" + kind), withPrefix(cuda, kind), kind + " codes of the two headers");
        }
        for (String code : List.of("OK", "ERR_ARGUMENT", "ERR_NONFINITE", "ERR_MEMORY")) {
            assertEquals(cpu.get("D4J_" + code), cuda.get(code), code);
        }
    }

    @Test
    void theBindingsMirrorTheirHeaders() throws IllegalAccessException {
        Map<String, Integer> cpuJava = javaConstants(CpuKernels.class);
        for (String kind : List.of("ACT_", "LOSS_", "OPT_")) {
            assertEquals(withPrefix(cpu, "D4J_" + kind), withPrefix(cpuJava, kind), "CpuKernels." + kind + "*");
        }
        Map<String, Integer> cudaJava = javaConstants(CudaKernels.class);
        for (String kind : List.of("ACT_", "LOSS_", "OPT_")) {
            assertEquals(withPrefix(cuda, kind), withPrefix(cudaJava, kind), "CudaKernels." + kind + "*");
        }
        // every other constant of a binding has the value of its header (the headers may have more)
        cpuJava.forEach((k, v) -> {
            if (cpu.containsKey("D4J_" + k)) {
                assertEquals(cpu.get("D4J_" + k), v, "CpuKernels." + k);
            }
        });
        cudaJava.forEach((k, v) -> {
            if (cuda.containsKey(k)) {
                assertEquals(cuda.get(k), v, "CudaKernels." + k);
            }
        });
        assertEquals(cpu.get("D4J_OPT_STATE_PER_PARAM"), OptimizerState.SLOTS);
        assertEquals(cpu.get("D4J_OPT_HP_COUNT"), OpCodes.hyperparameters(io.dense4j.optim.Optimizers.sgd(1)).length);
    }

    @Test
    void everyApiActivationAndLossHasItsKernelAndNoKernelOpIsUnreachable() {
        Map<String, Integer> acts = withPrefix(cpu, "D4J_ACT_");
        assertEquals(acts.size(), Activation.values().length, "kernel activations " + acts.keySet());
        for (Activation a : Activation.values()) {
            assertEquals(acts.get(a.name()), OpCodes.activation(a), a.name());
        }
        Map<String, Integer> losses = withPrefix(cpu, "D4J_LOSS_");
        assertEquals(losses.size(), Loss.values().length, "kernel losses " + losses.keySet());
        for (Loss l : Loss.values()) {
            assertEquals(losses.get(LOSS_NAMES.get(l)), OpCodes.loss(l), l.name());
        }
    }

    @Test
    void optimizersHaveTheirKernelAndTheHeadersHyperparameterOrder() {
        LearningRateSchedule lr = new LearningRateSchedule.Constant(0.01);
        // distinct values for every setting, so that a swapped position cannot pass
        Map<String, List<Optimizer>> byKernel = Map.of(
                "SGD", List.of(new Sgd(lr, 0.7, 0.2, 0.3, false, 0, 0), new Sgd(lr, 0.7, 0, 0.3, true, 0, 0)),
                "ADAM", List.of(new Adam(lr, 0.81, 0.92, 0.013, 0.04, true, 0, 0),
                        new Adam(lr, 0.81, 0.92, 0.013, 0.04, false, 0, 0)),
                "ADAMW", List.of(new AdamW(lr, 0.82, 0.93, 0.014, 0.05, true, 0, 0)),
                "RMSPROP", List.of(new RmsProp(lr, 0.95, 0.016, 0.06, 0.37, true, 0, 0),
                        new RmsProp(lr, 0.95, 0.016, 0.06, 0.37, false, 0, 0)));
        Map<String, Integer> kernels = withPrefix(cpu, "D4J_OPT_");
        kernels.keySet().removeAll(List.of("HP_COUNT", "STATE_PER_PARAM"));
        assertEquals(kernels.keySet(), byKernel.keySet(), "every kernel optimizer has an API class and back");
        byKernel.forEach((kernel, opts) -> {
            for (Optimizer o : opts) {
                assertEquals(kernels.get(kernel), OpCodes.optimizer(o), kernel);
                float[] packed = OpCodes.hyperparameters(o);
                List<String> names = hp.get(kernel);
                for (int i = 0; i < packed.length; i++) {
                    float want = i < names.size() ? (float) o.get(names.get(i)) : 0f;
                    assertEquals(want, packed[i], kernel + " hp[" + i + "] = " + (i < names.size() ? names.get(i)
                            : "unused") + " in " + Arrays.toString(packed));
                }
            }
        });
    }
}
