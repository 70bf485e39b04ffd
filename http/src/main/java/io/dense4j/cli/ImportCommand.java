package io.dense4j.cli;

import io.dense4j.Models;
import io.dense4j.Sequential;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code dense4j import}: a Keras model file to a Dense4J model file. */
@Command(name = "import", mixinStandardHelpOptions = true,
        description = "Convert a Keras model (.h5 from Keras 2 / tf.keras or Keras 3, or a .keras archive) to a Dense4J "
                + "model file. Layers Dense4J cannot represent fail with a message naming them; nothing is written then.")
public final class ImportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "KERAS_FILE", description = "the Keras model file (recognized by its content)")
    Path source;

    @Option(names = {"-o", "--output"}, required = true, description = "the Dense4J model file to write (.d4j)")
    Path output;

    @Option(names = "--class-names", split = ",", description = "names of the output classes, e.g. 0,1,2,...")
    List<String> classNames;

    @Override
    public Integer call() {
        try (Sequential model = Models.importKeras(source)) {
            if (classNames != null) {
                model.classNames(classNames);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> info = (Map<String, Object>) model.trainingInfo().get("imported");
            System.out.println("imported " + source + " (" + info.get("format") + ", Keras "
                    + info.get("keras_version") + ", sha256 " + info.get("source_sha256") + ")");
            System.out.print(model.summary());
            System.out.println(model.loss() == null ? "not compiled"
                    : "compiled: " + model.optimizer() + ", loss " + model.loss().configName() + ", metrics "
                    + model.metrics().stream().map(m -> m.name()).toList());
            for (Object note : (List<?>) info.get("notes")) {
                System.out.println("note: " + note);
            }
            model.save(output);
            System.out.println("saved " + output);
        }
        return 0;
    }
}
