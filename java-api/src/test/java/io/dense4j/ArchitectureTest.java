package io.dense4j;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaMember;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import io.dense4j.tensor.ElementCodec;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.module.ModuleDescriptor;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package structure of the Java API, checked so that it stays as issue 10 left it: no package cycles, the
 * public API free of JavaCPP and of the internal packages, the native binding reached only by the backends, and
 * module-info exporting exactly the API packages.
 */
class ArchitectureTest {
    /** What applications use; module-info exports exactly these. */
    static final Set<String> API = Set.of("io.dense4j", "io.dense4j.backend", "io.dense4j.config", "io.dense4j.data",
            "io.dense4j.federated", "io.dense4j.federated.privacy", "io.dense4j.federated.protocol",
            "io.dense4j.federated.secagg",
            "io.dense4j.io", "io.dense4j.layers", "io.dense4j.model", "io.dense4j.optim", "io.dense4j.registry",
            "io.dense4j.tensor", "io.dense4j.train", "io.dense4j.tune");
    /** Implementation: backends and their helpers. */
    static final Set<String> INTERNAL = Set.of("io.dense4j.internal", "io.dense4j.backend.cpu",
            "io.dense4j.backend.cuda", "io.dense4j.backend.kernels");

    static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.dense4j");
    }

    @Test
    void everyPackageIsEitherApiOrInternal() {
        Set<String> packages = main.stream().map(JavaClass::getPackageName)
                .filter(p -> !p.equals("io.dense4j.nativelib")).collect(Collectors.toCollection(TreeSet::new));
        Set<String> known = new TreeSet<>(API);
        known.addAll(INTERNAL);
        assertEquals(known, packages, "a new package must be declared API (and exported) or internal here");
    }

    @Test
    void noPackageCycles() {
        SliceAssignment byPackage = new SliceAssignment() {
            @Override
            public SliceIdentifier getIdentifierOf(JavaClass c) {
                return c.getPackageName().startsWith("io.dense4j") && !c.getPackageName().equals("io.dense4j.nativelib")
                        ? SliceIdentifier.of(c.getPackageName()) : SliceIdentifier.ignore();
            }

            @Override
            public String getDescription() {
                return "each package of io.dense4j";
            }
        };
        slices().assignedFrom(byPackage).should().beFreeOfCycles().check(main);
    }

    @Test
    void onlyBackendsAndTensorsTouchJavaCpp() {
        noClasses().that().resideOutsideOfPackages("io.dense4j.internal", "io.dense4j.backend.cpu",
                        "io.dense4j.backend.cuda", "io.dense4j.backend.kernels", "io.dense4j.tensor",
                        "io.dense4j.nativelib")
                .should().dependOnClassesThat().resideInAnyPackage("org.bytedeco..", "io.dense4j.nativelib")
                .because("the kernels are reached through a Backend; tensors own their native memory")
                .check(main);
    }

    @Test
    void apiPackagesDoNotDependOnTheBackendsImplementations() {
        noClasses().that().resideInAnyPackage("io.dense4j.layers", "io.dense4j.optim", "io.dense4j.train",
                        "io.dense4j.data", "io.dense4j.config", "io.dense4j.model", "io.dense4j.io",
                        "io.dense4j.registry", "io.dense4j.backend", "io.dense4j.tensor")
                .should().dependOnClassesThat().resideInAnyPackage("io.dense4j.backend.cpu", "io.dense4j.backend.cuda",
                        "io.dense4j.backend.kernels")
                .because("only Sequential picks a built-in backend; everything else sees the Backend interface")
                .check(main);
        noClasses().that().resideInAnyPackage("io.dense4j.layers", "io.dense4j.optim", "io.dense4j.train",
                        "io.dense4j.config", "io.dense4j.model", "io.dense4j.io", "io.dense4j.registry",
                        "io.dense4j.backend")
                .should().dependOnClassesThat().resideInAPackage("io.dense4j.internal").check(main);
        classes().that().resideInAPackage("io.dense4j.train").should().onlyDependOnClassesThat(
                        DescribedPredicate.not(JavaClass.Predicates.resideInAnyPackage("io.dense4j", "io.dense4j.io",
                                "io.dense4j.model", "io.dense4j.backend..")))
                .because("callbacks get a TrainableModel, the Trainer a TrainingTarget: training knows no model class")
                .check(main);
    }

    /** No public or protected member of a public API class mentions JavaCPP or an internal package. */
    @Test
    void publicApiSignaturesAreSealed() {
        List<String> leaks = new ArrayList<>();
        for (JavaClass c : main) {
            if (!API.contains(c.getPackageName()) || !isVisible(c)) {
                continue;
            }
            for (JavaClass t : c.getAllRawSuperclasses()) {
                check(leaks, c.getName() + " extends", t);
            }
            for (JavaClass t : c.getAllRawInterfaces()) {
                check(leaks, c.getName() + " implements", t);
            }
            for (JavaMember m : c.getMembers()) {
                if (!m.getModifiers().contains(JavaModifier.PUBLIC) && !m.getModifiers().contains(JavaModifier.PROTECTED)) {
                    continue;
                }
                if (m instanceof JavaField f) {
                    f.getType().getAllInvolvedRawTypes().forEach(t -> check(leaks, m.getFullName(), t));
                } else if (m instanceof JavaCodeUnit u) {
                    u.getReturnType().getAllInvolvedRawTypes().forEach(t -> check(leaks, m.getFullName(), t));
                    u.getParameterTypes().forEach(p -> p.getAllInvolvedRawTypes().forEach(t -> check(leaks, m.getFullName(), t)));
                }
            }
        }
        assertTrue(leaks.isEmpty(), "the public API exposes implementation types:\n" + String.join("\n", leaks));
    }

    private static boolean isVisible(JavaClass c) {
        for (JavaClass k = c; k != null; k = k.getEnclosingClass().orElse(null)) {
            if (!k.getModifiers().contains(JavaModifier.PUBLIC)) {
                return false;
            }
        }
        return true;
    }

    private static void check(List<String> leaks, String where, JavaClass type) {
        String p = type.getPackageName();
        if (p.startsWith("org.bytedeco") || p.equals("io.dense4j.nativelib") || INTERNAL.contains(p)) {
            leaks.add(where + " -> " + type.getName());
        }
    }

    /** Bit-level float conversions and typed buffer access: what converting element types to and from bytes takes. */
    static final DescribedPredicate<JavaMethodCall> CONVERTS_ELEMENTS = DescribedPredicate.describe(
            "convert element types to or from bits or bytes", call -> {
                String owner = call.getTargetOwner().getName();
                return (owner.equals("java.lang.Float") || owner.equals("java.lang.Double"))
                        && Set.of("intBitsToFloat", "floatToRawIntBits", "floatToIntBits", "float16ToFloat", "floatToFloat16",
                                "longBitsToDouble", "doubleToRawLongBits", "doubleToLongBits").contains(call.getName())
                        || owner.equals("java.nio.ByteBuffer") && Set.of("getShort", "putShort", "getFloat", "putFloat",
                                "getDouble", "putDouble", "asShortBuffer", "asFloatBuffer", "asDoubleBuffer").contains(call.getName());
            });

    /** One element-type codec: safetensors, federated messages (and the server, ApiBoundaryTest) call ElementCodec. */
    @Test
    void elementTypesAreConvertedOnlyByTheCodec() {
        noClasses().that().doNotHaveFullyQualifiedName(ElementCodec.class.getName())
                .and().resideOutsideOfPackage("io.dense4j.nativelib")
                .should().callMethodWhere(CONVERTS_ELEMENTS)
                .because("half floats, byte orders and integer ranges are handled once, by io.dense4j.tensor.ElementCodec")
                .check(main);
    }

    /** module-info.java exports the API packages and nothing else. */
    @Test
    void moduleExportsExactlyTheApi() throws Exception {
        ModuleDescriptor d = Sequential.class.getModule().getDescriptor();
        if (d == null) { // on the class path: read the descriptor beside our classes
            Path root = Path.of(Sequential.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            try (InputStream in = Files.isDirectory(root) ? Files.newInputStream(root.resolve("module-info.class"))
                    : new java.util.jar.JarFile(root.toFile()).getInputStream(new java.util.zip.ZipEntry("module-info.class"))) {
                d = ModuleDescriptor.read(in);
            }
        }
        {
            Set<String> exported = d.exports().stream().filter(e -> !e.isQualified()).map(ModuleDescriptor.Exports::source)
                    .collect(Collectors.toCollection(TreeSet::new));
            assertEquals(new TreeSet<>(API), exported);
        }
    }
}
