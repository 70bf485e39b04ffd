package io.dense4j.spark;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The Spark trainer is an application of the Java API. It runs on the class path (Spark is not modular, see the
 * README's Architecture section), so no module descriptor keeps it out of the API's internals: this test does. It
 * uses what module io.dense4j exports, never JavaCPP, the native binding or the backends' implementations.
 */
class ApiBoundaryTest {
    @Test
    void usesOnlyTheExportedApi() {
        JavaClasses spark = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.dense4j.spark");
        noClasses().should().dependOnClassesThat().resideInAnyPackage("org.bytedeco..", "io.dense4j.nativelib",
                        "io.dense4j.internal", "io.dense4j.backend.cpu", "io.dense4j.backend.cuda",
                        "io.dense4j.backend.kernels")
                .check(spark);
    }
}
