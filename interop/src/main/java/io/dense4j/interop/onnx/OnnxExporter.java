package io.dense4j.interop.onnx;

import com.google.protobuf.ByteString;
import io.dense4j.interop.NetworkSpec;
import io.dense4j.interop.NetworkSpec.Affine;
import io.dense4j.interop.NetworkSpec.DenseSpec;
import io.dense4j.interop.NetworkSpec.Scale;
import io.dense4j.interop.onnx.proto.OnnxProto.AttributeProto;
import io.dense4j.interop.onnx.proto.OnnxProto.GraphProto;
import io.dense4j.interop.onnx.proto.OnnxProto.ModelProto;
import io.dense4j.interop.onnx.proto.OnnxProto.NodeProto;
import io.dense4j.interop.onnx.proto.OnnxProto.OperatorSetIdProto;
import io.dense4j.interop.onnx.proto.OnnxProto.StringStringEntryProto;
import io.dense4j.interop.onnx.proto.OnnxProto.TensorProto;
import io.dense4j.interop.onnx.proto.OnnxProto.TensorShapeProto;
import io.dense4j.interop.onnx.proto.OnnxProto.TypeProto;
import io.dense4j.interop.onnx.proto.OnnxProto.ValueInfoProto;
import io.dense4j.layers.Activation;
import io.dense4j.tensor.ElementCodec;
import io.dense4j.tensor.ElementType;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A Dense4J model as an ONNX model (opset 17, IR version 8) that computes what {@code predict} does: the
 * preprocessing (Mul, or Sub then Div), then per Dense layer a Gemm and its activation (Relu, Sigmoid, Tanh, exact
 * GELU as x/2 * (1 + Erf(x / sqrt 2)) since the Gelu operator only exists from opset 20, Softmax over the last axis).
 * Dropout is the identity at inference and is left out. The input is "input" [batch, inputs] and the output "output"
 * [batch, outputs], float32, with a symbolic batch dimension: the names the inference server uses.
 */
final class OnnxExporter {
    public static final String INPUT = "input";
    public static final String OUTPUT = "output";
    static final int OPSET = 17;
    /** IR version 8 is the one ONNX pairs with opset 17 (onnx/helper.py VERSION_TABLE, release 1.12). */
    static final long IR_VERSION = 8;

    private OnnxExporter() {}

    /** The ONNX model for {@code spec}. */
    public static ModelProto model(NetworkSpec spec, String producerVersion) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("dense4j");
        g.addInput(valueInfo(INPUT, spec.inputs()));
        g.addOutput(valueInfo(OUTPUT, spec.outputs()));
        String x = INPUT;
        if (spec.preprocessing() instanceof Scale s) {
            g.addInitializer(tensor("preprocessing.scale", new float[] {s.factor()}));
            x = node(g, "Mul", "preprocessing", x, "preprocessing.scale");
        } else if (spec.preprocessing() instanceof Affine a) {
            g.addInitializer(tensor("preprocessing.shift", a.shift(), a.shift().length));
            g.addInitializer(tensor("preprocessing.div", a.div(), a.div().length));
            x = node(g, "Sub", "preprocessing.centre", x, "preprocessing.shift");
            x = node(g, "Div", "preprocessing", x, "preprocessing.div");
        }
        int n = spec.denseLayers().size();
        boolean gelu = false;
        for (int l = 0; l < n; l++) {
            DenseSpec d = spec.denseLayers().get(l);
            String p = "dense_" + l;
            g.addInitializer(tensor(p + ".kernel", d.kernel(), d.inputs(), d.units()));
            g.addInitializer(tensor(p + ".bias", d.bias(), d.units()));
            boolean last = l == n - 1;
            String gemmOut = last && d.activation() == Activation.LINEAR ? OUTPUT : p + ".gemm";
            g.addNode(NodeProto.newBuilder().setOpType("Gemm").setName(p + ".gemm").addInput(x).addInput(p + ".kernel")
                    .addInput(p + ".bias").addOutput(gemmOut));
            x = gemmOut;
            String out = last ? OUTPUT : p + ".out";
            switch (d.activation()) {
                case LINEAR -> {
                }
                case RELU -> x = node(g, "Relu", out, x);
                case SIGMOID -> x = node(g, "Sigmoid", out, x);
                case TANH -> x = node(g, "Tanh", out, x);
                case SOFTMAX -> {
                    g.addNode(NodeProto.newBuilder().setOpType("Softmax").setName(out).addInput(x).addOutput(out)
                            .addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT)
                                    .setI(-1)));
                    x = out;
                }
                case GELU -> {
                    gelu = true;
                    // as Dense4J's kernel: 0.5f * x * (1 + erf(x * 0.70710678f))
                    String t = node(g, "Mul", p + ".gelu.scaled", x, "gelu.inv_sqrt2");
                    String e = node(g, "Erf", p + ".gelu.erf", t);
                    String a = node(g, "Add", p + ".gelu.cdf2", e, "gelu.one");
                    String h = node(g, "Mul", p + ".gelu.half", x, "gelu.half");
                    g.addNode(NodeProto.newBuilder().setOpType("Mul").setName(out).addInput(h).addInput(a).addOutput(out));
                    x = out;
                }
            }
        }
        if (gelu) {
            g.addInitializer(tensor("gelu.inv_sqrt2", new float[] {0.70710678118654752f}));
            g.addInitializer(tensor("gelu.one", new float[] {1f}));
            g.addInitializer(tensor("gelu.half", new float[] {0.5f}));
        }
        ModelProto.Builder m = ModelProto.newBuilder().setIrVersion(IR_VERSION).setProducerName("dense4j")
                .setProducerVersion(producerVersion).setDomain("io.dense4j").setModelVersion(1)
                .setDocString("Dense4J model: Dense layers as Gemm + activation; input '" + INPUT + "', output '"
                        + OUTPUT + "'")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setGraph(g);
        if (!spec.classNames().isEmpty()) {
            m.addMetadataProps(StringStringEntryProto.newBuilder().setKey("class_names")
                    .setValue(toJson(spec.classNames())));
        }
        return m.build();
    }

    /** Writes the model atomically (temporary file in the same directory, then renamed). */
    public static void write(NetworkSpec spec, Path file, String producerVersion) {
        ModelProto m = model(spec, producerVersion);
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = io.dense4j.io.AtomicFiles.createTemp(dir, file.getFileName().toString()); // the permissions a new file gets
            try (OutputStream out = Files.newOutputStream(tmp)) {
                m.writeTo(out);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            tmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a leftover temporary file is harmless
                }
            }
        }
    }

    private static String node(GraphProto.Builder g, String op, String out, String... in) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(out).addOutput(out);
        for (String i : in) {
            n.addInput(i);
        }
        g.addNode(n);
        return out;
    }

    private static ValueInfoProto valueInfo(String name, int width) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(width)).build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(shape))).build();
    }

    /** A float32 tensor, little-endian raw data; no dims = a scalar. */
    private static TensorProto tensor(String name, float[] values, long... dims) {
        ByteBuffer b = ByteBuffer.allocate(values.length * ElementType.FLOAT32.byteSize());
        ElementCodec.encode(ElementType.FLOAT32, values, 0, values.length, b);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE)
                .setRawData(ByteString.copyFrom(b.array()));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    private static String toJson(java.util.List<String> names) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(names);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
