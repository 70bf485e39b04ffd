package io.dense4j.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
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
}
