package io.dense4j.service.dataset;

import io.dense4j.service.store.Database;
import io.dense4j.service.store.JobStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Uploads leave the disk's reserve free: the registry, the state store and job checkpoints usually share the data
 * sets' file system, and any number of uploads (each within its own size limit) used to be able to fill it.
 */
class DatasetCatalogTest {
    @TempDir
    Path dir;

    @Test
    void uploadsStopAtTheDiskReserveAndLeaveNothing() throws Exception {
        JobStore store = new JobStore(Database.sqlite(dir.resolve("state.db")));
        long free = Files.getFileStore(dir).getUsableSpace();
        byte[] csv = "a,label\n1,0\n2,1\n".getBytes(StandardCharsets.UTF_8);

        // a reserve just above what is free now: refused as the first bytes arrive
        DatasetCatalog full = new DatasetCatalog(store, dir.resolve("full"), 1 << 20, free + (1L << 30));
        try (DatasetCatalog.Upload up = full.newUpload()) {
            DatasetException e = assertThrows(DatasetException.class, () -> up.receive("a.csv", new ByteArrayInputStream(csv)));
            assertEquals(DatasetException.Kind.NO_SPACE, e.kind());
            assertTrue(e.getMessage().contains("disk") && e.getMessage().contains("nothing was stored"), e.getMessage());
            assertThrows(DatasetException.class, () -> up.requireRoomFor(csv.length));
        }
        // room for the reserve but not for what the upload declares: refused before it is read
        DatasetCatalog tight = new DatasetCatalog(store, dir.resolve("tight"), Long.MAX_VALUE, free / 2);
        try (DatasetCatalog.Upload up = tight.newUpload()) {
            up.requireRoomFor(csv.length);
            up.requireRoomFor(-1); // unknown length: checked as it arrives
            assertEquals(DatasetException.Kind.NO_SPACE,
                    assertThrows(DatasetException.class, () -> up.requireRoomFor(free)).kind());
        }
        assertEquals(0, entries(dir.resolve("full/.staging")) + entries(dir.resolve("tight/.staging")), "nothing staged");

        // with room, the same upload is stored
        DatasetCatalog roomy = new DatasetCatalog(store, dir.resolve("roomy"), 1 << 20, 0);
        try (DatasetCatalog.Upload up = roomy.newUpload(); InputStream in = new ByteArrayInputStream(csv)) {
            up.requireRoomFor(csv.length);
            up.receive("a.csv", in);
            assertEquals(2, roomy.commit(up, new DatasetCatalog.Options("a", null, java.util.List.of()), "alice")
                    .dataset().rows());
        }
    }

    private static long entries(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.count();
        }
    }
}
