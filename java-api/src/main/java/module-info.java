/**
 * Dense4J's Java API: build, train, evaluate, save, register and serve dense networks (see README.md).
 *
 * <p>Exported: the API packages only. The backends' implementations ({@code io.dense4j.backend.cpu},
 * {@code io.dense4j.backend.cuda}, {@code io.dense4j.backend.kernels}) and {@code io.dense4j.internal} are not:
 * applications never see a JavaCPP pointer or a kernel code. The config packages are open to Jackson, which reads
 * and writes configs through their annotated (often package-private) creators and accessors.
 */
module io.dense4j {
    requires io.dense4j.nativelib;
    requires org.bytedeco.javacpp;
    requires transitive com.fasterxml.jackson.databind;
    requires java.net.http; // the federated client's HTTP connection

    // foreign model formats (Keras, ONNX) come from dense4j-interop through ServiceLoader
    uses io.dense4j.io.ModelFormat;

    exports io.dense4j;
    exports io.dense4j.backend;
    exports io.dense4j.config;
    exports io.dense4j.data;
    exports io.dense4j.federated;
    exports io.dense4j.federated.privacy;
    exports io.dense4j.federated.protocol;
    exports io.dense4j.federated.secagg;
    exports io.dense4j.io;
    exports io.dense4j.layers;
    exports io.dense4j.model;
    exports io.dense4j.optim;
    exports io.dense4j.registry;
    exports io.dense4j.tensor;
    exports io.dense4j.train;
    exports io.dense4j.tune;

    opens io.dense4j.data to com.fasterxml.jackson.databind;
    opens io.dense4j.layers to com.fasterxml.jackson.databind;
    opens io.dense4j.model to com.fasterxml.jackson.databind;
    opens io.dense4j.optim to com.fasterxml.jackson.databind;
    opens io.dense4j.registry to com.fasterxml.jackson.databind;
    opens io.dense4j.train to com.fasterxml.jackson.databind;
    opens io.dense4j.tune to com.fasterxml.jackson.databind;
}
