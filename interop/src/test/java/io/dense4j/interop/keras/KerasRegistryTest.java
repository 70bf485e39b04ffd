package io.dense4j.interop.keras;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Model;
import io.dense4j.Models;
import io.dense4j.Sequential;
import io.dense4j.registry.HistoryEntry;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.registry.RegisterOptions;
import io.dense4j.registry.RegistryException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registry takes Keras files (recognized by content, whatever their name), converts them once, keeps their hash. */
class KerasRegistryTest {
    @Test
    void registersKerasFilesAsConvertedVersions(@TempDir Path tmp) throws Exception {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        int v = 0;
        for (String fixture : List.of("k2_vlen.h5", "k3_names_differ.keras")) {
            Path src = KerasFixturesTest.DIR.resolve(fixture);
            Path renamed = tmp.resolve("upload-" + fixture + ".bin"); // content decides, not the name
            Files.copy(src, renamed);
            ModelVersionInfo info = reg.register("m", renamed, RegisterOptions.defaults().actor("alice"));
            assertEquals(++v, info.version());
            String sha = KerasFormat.sha256(src);
            assertEquals(sha, info.importedFrom().sha256());
            assertEquals(Files.size(src), info.importedFrom().sizeBytes());
            assertTrue(info.importedFrom().format().contains(fixture.endsWith(".h5") ? "HDF5" : ".keras"));
            assertTrue(!info.sha256().equals(sha), "the version's file is the conversion");
            assertEquals(reg.describe("m", v), info, "metadata.json keeps it");
            HistoryEntry h = reg.history("m").get(reg.history("m").size() - 1);
            assertEquals(sha, h.sourceSha256());
            assertTrue(reg.verify("m", v).ok());
            try (Model served = Model.load(info.modelFile(tmp.resolve("reg"))); Sequential direct = Models.importKeras(src)) {
                float[][] x = KerasExportTest.rows(3, direct.inputSize(), 4);
                float[][] a = served.predict(x);
                float[][] b = direct.predict(x);
                for (int i = 0; i < x.length; i++) {
                    assertArrayEquals(b[i], a[i], 0f);
                }
            }
        }
        // a plain Dense4J file registers as before, without imported_from
        Path d4j = tmp.resolve("plain.d4j");
        try (Sequential m = Models.importKeras(KerasFixturesTest.DIR.resolve("k2_vlen.h5"))) {
            m.save(d4j);
        }
        ModelVersionInfo plain = reg.register("m", d4j, RegisterOptions.defaults());
        assertNull(plain.importedFrom());
        assertEquals(KerasFormat.sha256(d4j), plain.sha256());
        // an unsupported Keras model is refused, and no version appears
        RegistryException e = assertThrows(RegistryException.class,
                () -> reg.register("m", KerasFixturesTest.DIR.resolve("bad_conv.h5"), RegisterOptions.defaults()));
        assertEquals(RegistryException.Kind.INVALID, e.kind());
        assertTrue(e.getMessage().contains("Conv2D"), e.getMessage());
        try (InputStream in = Files.newInputStream(KerasFixturesTest.DIR.resolve("bad_branches.h5"))) {
            RegistryException streamed = assertThrows(RegistryException.class,
                    () -> reg.register("m", in, RegisterOptions.defaults()));
            // the registry's staging path (host and PID) is not the caller's business
            for (RegistryException r : List.of(e, streamed)) {
                assertTrue(r.getMessage().startsWith("not a valid keras model: ") && !r.getMessage().contains(".staging"),
                        r.getMessage());
            }
        }
        assertEquals(List.of(1, 2, 3), reg.versionNumbers("m"));
    }
}
