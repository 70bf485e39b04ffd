package io.dense4j.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The command line and the server are applications of the Java API: they use its exported packages only (what
 * module io.dense4j exports), never JavaCPP, the native binding or the backends' implementations.
 */
class ApiBoundaryTest {
    @Test
    void usesOnlyTheExportedApi() {
        JavaClasses http = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.dense4j.cli", "io.dense4j.http");
        noClasses().should().dependOnClassesThat().resideInAnyPackage("org.bytedeco..", "io.dense4j.nativelib",
                        "io.dense4j.internal", "io.dense4j.backend.cpu", "io.dense4j.backend.cuda",
                        "io.dense4j.backend.kernels")
                .check(http);
    }

    /**
     * The server, the command line and the model interchange convert element types only through the API's codec
     * (io.dense4j.tensor.ElementCodec), as java-api's ArchitectureTest requires of the API itself: no half-float,
     * byte-order or typed-buffer code of their own.
     */
    @Test
    void elementTypesAreConvertedOnlyByTheApiCodec() {
        JavaClasses apps = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.dense4j.cli", "io.dense4j.http", "io.dense4j.service", "io.dense4j.interop");
        DescribedPredicate<JavaMethodCall> converts = DescribedPredicate.describe(
                "convert element types to or from bits or bytes", call -> {
                    String owner = call.getTargetOwner().getName();
                    return (owner.equals("java.lang.Float") || owner.equals("java.lang.Double"))
                            && Set.of("intBitsToFloat", "floatToRawIntBits", "floatToIntBits", "float16ToFloat",
                                    "floatToFloat16", "longBitsToDouble", "doubleToRawLongBits", "doubleToLongBits")
                                    .contains(call.getName())
                            || owner.equals("java.nio.ByteBuffer") && Set.of("getShort", "putShort", "getFloat",
                                    "putFloat", "getDouble", "putDouble", "asShortBuffer", "asFloatBuffer", "asDoubleBuffer")
                                    .contains(call.getName());
                });
        noClasses().that().resideOutsideOfPackage("io.dense4j.interop.onnx.proto") // protoc's generated messages
                .should().callMethodWhere(converts).check(apps);
    }
}
