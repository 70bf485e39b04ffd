package io.dense4j.cli;

import io.dense4j.Sequential;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code dense4j export}: a Dense4J model file to Keras or ONNX. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a Dense4J model as a Keras 3 .keras archive or an ONNX model (opset 17; input 'input', "
                + "output 'output', as the server names them; preprocessing included).")
public final class ExportCommand implements Callable<Integer> {
    enum Format { keras, onnx }

    @Option(names = {"-m", "--model"}, required = true, description = "the Dense4J model file (.d4j)")
    Path model;

    @Option(names = "--format", required = true, description = "keras or onnx")
    Format format;

    @Option(names = {"-o", "--output"}, required = true, description = "the file to write (.keras or .onnx)")
    Path output;

    @Override
    public Integer call() {
        String name = output.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        String other = format == Format.keras ? ".onnx" : ".keras";
        if (name.endsWith(other) || name.endsWith(".h5") || name.endsWith(".d4j")) { // Keras reads a .h5 as HDF5
            // a file named for one format holding the other is read by nothing that trusts its name
            throw new IllegalArgumentException("--format " + format + " writes " + (format == Format.keras ? ".keras"
                    : ".onnx") + " files; " + output + " is named for another format");
        }
        try (Sequential m = Sequential.load(model)) {
            if (format == Format.keras) {
                m.exportKeras(output);
            } else {
                m.exportOnnx(output);
            }
        }
        System.out.println("wrote " + output + " (" + format + ")");
        return 0;
    }
}
