/**
 * Keras import and export, ONNX export (see README.md): the {@code ModelFormat} implementations the core finds
 * through {@code ServiceLoader} ({@code Models.importKeras}, {@code Sequential.exportKeras} / {@code exportOnnx}).
 *
 * <p>Exported: the two formats only ({@code KerasFormat}, {@code OnnxFormat}). Not exported: the converters'
 * shared model description ({@code io.dense4j.interop}: {@code NetworkSpec}, {@code ModelAdapter}) and the classes
 * generated from onnx.proto, which protobuf's runtime reads reflectively (hence opened to it).
 */
module io.dense4j.interop {
    requires io.dense4j;
    requires io.jhdf;
    requires com.google.protobuf;
    requires com.fasterxml.jackson.databind; // Keras configs (also read through io.dense4j)

    exports io.dense4j.interop.keras;
    exports io.dense4j.interop.onnx;

    opens io.dense4j.interop.onnx.proto to com.google.protobuf;

    provides io.dense4j.io.ModelFormat with io.dense4j.interop.keras.KerasFormat, io.dense4j.interop.onnx.OnnxFormat;
}
