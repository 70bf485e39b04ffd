package io.dense4j.bench;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The benchmarks use the exported Java API; only the per-op device layer (bench.device) calls the native binding
 * directly, as an op benchmark must, and PyTorch (which finds JavaCPP's OpenBLAS to preload it into PyTorch for the
 * comparison). Nothing reaches into the API's backends.
 */
class ApiBoundaryTest {
    @Test
    void onlyTheDeviceLayerTouchesTheBindingAndNothingTheBackends() {
        JavaClasses bench = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.dense4j.bench");
        noClasses().should().dependOnClassesThat().resideInAnyPackage("io.dense4j.internal", "io.dense4j.backend.cpu",
                "io.dense4j.backend.cuda", "io.dense4j.backend.kernels").check(bench);
        noClasses().that().resideOutsideOfPackage("io.dense4j.bench.device")
                .and().doNotHaveFullyQualifiedName(PyTorch.class.getName()).should().dependOnClassesThat()
                .resideInAnyPackage("org.bytedeco..", "io.dense4j.nativelib").check(bench);
    }
}
