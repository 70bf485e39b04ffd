package io.dense4j.interop;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.dense4j.interop.keras.KerasFormat;
import io.dense4j.io.ModelFormat;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.module.ModuleDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Module io.dense4j.interop: exports the two formats and nothing else, provides them as ModelFormat (on the module
 * path) exactly as META-INF/services does (on the class path, e.g. in the shaded jar), and is an application of
 * the Java API: it uses the packages module io.dense4j exports, never JavaCPP, the native binding or the backends.
 */
class InteropModuleTest {
    static ModuleDescriptor descriptor() throws Exception {
        ModuleDescriptor d = KerasFormat.class.getModule().getDescriptor();
        if (d != null) {
            return d;
        }
        Path root = Path.of(KerasFormat.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        try (InputStream in = Files.newInputStream(root.resolve("module-info.class"))) {
            return ModuleDescriptor.read(in);
        }
    }

    @Test
    void exportsTheFormatsOnlyAndProvidesThemAsTheServicesFileDoes() throws Exception {
        ModuleDescriptor d = descriptor();
        assertEquals("io.dense4j.interop", d.name());
        Set<String> exported = d.exports().stream().filter(e -> !e.isQualified()).map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(Set.of("io.dense4j.interop.keras", "io.dense4j.interop.onnx"), exported);
        List<String> provided = d.provides().stream().filter(p -> p.service().equals(ModelFormat.class.getName()))
                .flatMap(p -> p.providers().stream()).sorted().toList();
        List<String> listed;
        try (InputStream in = KerasFormat.class.getResourceAsStream("/META-INF/services/" + ModelFormat.class.getName());
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            listed = r.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).sorted().toList();
        }
        assertEquals(List.of("io.dense4j.interop.keras.KerasFormat", "io.dense4j.interop.onnx.OnnxFormat"), provided);
        assertEquals(provided, listed, "module-info and META-INF/services name the same formats");
    }

    @Test
    void usesOnlyTheExportedApi() {
        JavaClasses interop = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.dense4j.interop");
        noClasses().should().dependOnClassesThat().resideInAnyPackage("org.bytedeco..", "io.dense4j.nativelib",
                        "io.dense4j.internal", "io.dense4j.backend.cpu", "io.dense4j.backend.cuda",
                        "io.dense4j.backend.kernels")
                .check(interop);
    }
}
