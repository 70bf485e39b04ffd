package io.dense4j.interop.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.dense4j.Models;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.data.Normalizer;
import io.dense4j.interop.SharedData;
import io.dense4j.interop.onnx.proto.OnnxProto.ModelProto;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** ONNX export, loaded and run by ONNX Runtime (its Java API), against Dense4J's own predict. */
class OnnxExportTest {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

    static float[][] run(Path onnx, float[][] rows) throws Exception {
        try (OrtSession s = ENV.createSession(onnx.toString(), new OrtSession.SessionOptions());
             OnnxTensor in = OnnxTensor.createTensor(ENV, rows);
             OrtSession.Result r = s.run(Map.of("input", in))) {
            return (float[][]) r.get("output").orElseThrow().getValue();
        }
    }

    static double maxDiff(float[][] a, float[][] b) {
        double m = 0;
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i].length, b[i].length);
            for (int j = 0; j < a[i].length; j++) {
                m = Math.max(m, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return m;
    }

    static float[][] rows(int n, int d, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] x = new float[n][d];
        for (float[] row : x) {
            for (int j = 0; j < d; j++) {
                row[j] = (float) (r.nextDouble() * 6 - 3);
            }
        }
        return x;
    }

    /** Every activation, in a hidden layer and as the output, at awkward widths and batch sizes. */
    @ParameterizedTest
    @EnumSource(Activation.class)
    void everyActivationMatchesDense4j(Activation act, @TempDir Path tmp) throws Exception {
        Activation hidden = act == Activation.SOFTMAX ? Activation.RELU : act;
        for (int width : new int[] {1, 31, 33}) {
            try (Sequential m = Sequential.of(Dense.of(width, 33, hidden), Dropout.of(0.3), Dense.of(31, hidden),
                    Dense.of(act == Activation.SOFTMAX ? 10 : width, act))) {
                m.initialize(width);
                Path f = tmp.resolve("m-" + width + ".onnx");
                m.exportOnnx(f);
                for (int batch : new int[] {1, 257}) {
                    float[][] x = rows(batch, width, batch + width);
                    double d = maxDiff(m.predict(x), run(f, x));
                    assertTrue(d <= 1e-5, act + " width " + width + " batch " + batch + ": max diff " + d);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"scale", "standardize", "minmax"})
    void preprocessingIsPartOfTheGraph(String kind, @TempDir Path tmp) throws Exception {
        try (Sequential m = Sequential.of(Dense.of(7, 16, Activation.GELU), Dense.of(3, Activation.SOFTMAX))) {
            m.initialize(5);
            float[][] train = rows(50, 7, 9);
            for (float[] r : train) {
                r[2] = r[2] * 100 + 40; // a feature far from [0, 1]
            }
            Normalizer n = switch (kind) {
                case "scale" -> Normalizer.scale(0.125f);
                case "standardize" -> Normalizer.standardize();
                default -> Normalizer.minMax();
            };
            try (Dataset d = Dataset.of(train, new int[50])) {
                n.fit(d);
            }
            m.preprocessing(n);
            m.classNames(List.of("x", "y", "z"));
            Path f = tmp.resolve("m.onnx");
            m.exportOnnx(f);
            double d = maxDiff(m.predict(train), run(f, train));
            assertTrue(d <= 1e-5, kind + ": max diff " + d);
            ModelProto proto = ModelProto.parseFrom(Files.readAllBytes(f));
            assertEquals("[\"x\",\"y\",\"z\"]", proto.getMetadataProps(0).getValue());
        }
    }

    @Test
    void graphHasTheServersNamesOpset17AndADynamicBatch(@TempDir Path tmp) throws Exception {
        try (Sequential m = Sequential.of(Dense.of(4, 5, Activation.TANH), Dense.of(2, Activation.LINEAR))) {
            m.initialize(1);
            Path f = tmp.resolve("m.onnx");
            m.exportOnnx(f);
            // the permissions any new file gets here (the temporary file's owner-only ones did not survive)
            Path plain = Files.createFile(tmp.resolve("plain"));
            assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(f));
            Path k = tmp.resolve("m.keras");
            m.exportKeras(k);
            assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(k));
            ModelProto p = ModelProto.parseFrom(Files.readAllBytes(f));
            assertEquals(17, p.getOpsetImport(0).getVersion());
            assertEquals("", p.getOpsetImport(0).getDomain());
            assertEquals(8, p.getIrVersion());
            assertEquals(List.of("Gemm", "Tanh", "Gemm"), p.getGraph().getNodeList().stream().map(n -> n.getOpType()).toList());
            try (OrtSession s = ENV.createSession(f.toString(), new OrtSession.SessionOptions())) {
                NodeInfo in = s.getInputInfo().get("input");
                NodeInfo out = s.getOutputInfo().get("output");
                assertEquals(List.of(-1L, 4L), List.of(((TensorInfo) in.getInfo()).getShape()[0], ((TensorInfo) in.getInfo()).getShape()[1]));
                assertEquals(2L, ((TensorInfo) out.getInfo()).getShape()[1]);
                assertEquals("batch", p.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
            }
        }
    }

    /** ONNX's own checker (Debian's python3-onnx) with full shape inference accepts the exported graph. */
    @Test
    void onnxCheckerAcceptsTheModel(@TempDir Path tmp) throws Exception {
        String py = null;
        for (String candidate : new String[] {"python3", "/usr/bin/python3"}) {
            try {
                Process p = new ProcessBuilder(candidate, "-c", "import onnx").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor() == 0) {
                    py = candidate;
                    break;
                }
            } catch (java.io.IOException e) {
                // next
            }
        }
        assumeTrue(py != null, "skipped: no python3 with the onnx package (Debian: apt-get install python3-onnx)");
        try (Sequential m = Sequential.of(Dense.of(6, 8, Activation.GELU), Dropout.of(0.1), Dense.of(8, Activation.SIGMOID),
                Dense.of(3, Activation.SOFTMAX))) {
            m.initialize(2);
            m.preprocessing(Normalizer.scale(0.5f));
            Path f = tmp.resolve("m.onnx");
            m.exportOnnx(f);
            Process p = new ProcessBuilder(py, "-c", "import onnx, sys; m = onnx.load(sys.argv[1]); "
                    + "onnx.checker.check_model(m, full_check=True); "
                    + "print(onnx.shape_inference.infer_shapes(m, strict_mode=True).graph.output[0].type.tensor_type.shape)",
                    f.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertEquals(0, p.waitFor(), out);
            assertTrue(out.contains("dim_param: \"batch\"") && out.contains("dim_value: 3"), out);
        }
    }

    /** The real Keras files, imported, exported to ONNX and run by ONNX Runtime on real MNIST test rows. */
    @ParameterizedTest
    @ValueSource(strings = {"k2_hotaruk_mnist_128.h5", "k3_payal_mnist_128.keras"})
    void realKerasModelsThroughOnnxRuntime(String name, @TempDir Path tmp) throws Exception {
        Path dir = SharedData.dir("keras");
        Path mnist = SharedData.dir("mnist-t10k");
        assumeTrue(dir != null && mnist != null, "skipped: ../shared/data/keras or mnist-t10k is not here");
        try (Sequential m = Models.importKeras(dir.resolve(name)); Dataset test = Mnist.loadSplit(mnist, Mnist.TEST)) {
            Path f = tmp.resolve("m.onnx");
            m.exportOnnx(f);
            float[][] x = new float[1000][];
            for (int i = 0; i < x.length; i++) {
                x[i] = test.features().row(i);
            }
            float[][] ort = run(f, x);
            double d = maxDiff(m.predict(x), ort);
            int correct = 0;
            for (int i = 0; i < x.length; i++) {
                int best = 0;
                for (int j = 1; j < 10; j++) {
                    best = ort[i][j] > ort[i][best] ? j : best;
                }
                correct += best == test.labels().getInt(i) ? 1 : 0;
            }
            System.out.printf("%s via ONNX Runtime: max |ORT - Dense4J| on t10k rows 0..999 = %.3g, accuracy %.3f%n",
                    name, d, correct / 1000.0);
            assertTrue(d <= 1e-5, "max diff " + d);
        }
    }
}
