package io.dense4j.interop.onnx;

import io.dense4j.interop.ModelAdapter;
import io.dense4j.io.ModelFormat;
import io.dense4j.model.ModelState;

/** ONNX export (opset 17); see {@link OnnxExporter}. Dense4J does not import ONNX models. */
public final class OnnxFormat implements ModelFormat {
    @Override
    public String name() {
        return "onnx";
    }

    @Override
    public void exportModel(ModelState model, java.nio.file.Path file) {
        String version = OnnxFormat.class.getPackage().getImplementationVersion();
        OnnxExporter.write(ModelAdapter.describe(model), file, version == null ? "0.1.0" : version);
    }
}
