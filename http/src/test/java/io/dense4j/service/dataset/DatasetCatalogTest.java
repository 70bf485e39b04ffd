package io.dense4j.service.dataset;

import io.dense4j.data.Idx;
import io.dense4j.data.TensorAllocation;
import io.dense4j.service.job.DatasetResolver;
import io.dense4j.service.store.Database;
import io.dense4j.tensor.Tensor;
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

    /**
     * A data set directory with no record (a crash between the directory's rename and the record's commit, or a
     * delete racing an upload) is never taken for the data: the next upload of those bytes replaces it. It used to
     * answer 500 for ever (a rename onto a non-empty directory is not a FileAlreadyExistsException on Linux) or keep
     * whatever the leftover held.
     */
    @Test
    void aDirectoryWithoutARecordIsReplacedNotTrusted() throws Exception {
        JobStore store = new JobStore(Database.sqlite(dir.resolve("state.db")));
        DatasetCatalog catalog = new DatasetCatalog(store, dir.resolve("sets"), 1 << 20, 0);
        byte[] csv = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n".getBytes(StandardCharsets.UTF_8);
        String sha = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(csv));
        Path leftover = Files.createDirectories(dir.resolve("sets").resolve(sha));
        Files.writeString(leftover.resolve("a.csv"), "a,b,label\n9,9,z\n"); // not what the SHA-256 names
        DatasetCatalog.Stored stored;
        try (DatasetCatalog.Upload up = catalog.newUpload(); InputStream in = new ByteArrayInputStream(csv)) {
            up.receive("a.csv", in);
            stored = catalog.commit(up, new DatasetCatalog.Options("a", null, java.util.List.of()), "alice");
        }
        assertTrue(stored.created());
        assertEquals(sha, stored.dataset().sha256());
        assertEquals(3, stored.dataset().rows());
        assertEquals(new String(csv, StandardCharsets.UTF_8), Files.readString(leftover.resolve("a.csv")));
        try (DatasetResolver.Loaded loaded = catalog.locate(sha).read(TensorAllocation.DIRECT)) {
            assertEquals(3, loaded.train().size());
        }
    }

    /**
     * A job's read of a data set allocates every native tensor it returns through the allocation it is given (a job
     * hands them to its normal-priority thread), for CSV and IDX alike, and still checks the files' SHA-256 first.
     */
    @Test
    void readingADataSetAllocatesOnlyThroughTheGivenAllocation() throws Exception {
        JobStore store = new JobStore(Database.sqlite(dir.resolve("state.db")));
        DatasetCatalog catalog = new DatasetCatalog(store, dir.resolve("sets"), 1 << 20, 0);
        byte[] csv = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n".getBytes(StandardCharsets.UTF_8);
        String csvSha;
        try (DatasetCatalog.Upload up = catalog.newUpload(); InputStream in = new ByteArrayInputStream(csv)) {
            up.receive("a.csv", in);
            csvSha = catalog.commit(up, new DatasetCatalog.Options("a", null, java.util.List.of()), "alice").dataset()
                    .sha256();
        }
        Path idx = Files.createDirectories(dir.resolve("idx"));
        try (Tensor images = Tensor.of(new float[] {0, 1, 0.5f, 0.25f, 1, 0, 0, 1}, 2, 4);
             Tensor labels = Tensor.ofInts(new int[] {1, 0}, 2)) {
            Idx.writeImages(idx.resolve("train-images-idx3-ubyte"), images, 2, 2);
            Idx.writeLabels(idx.resolve("train-labels-idx1-ubyte"), labels);
        }
        String idxSha = catalog.registerLocal(idx, new DatasetCatalog.Options("idx", null, java.util.List.of()), "admin")
                .dataset().sha256();

        for (String sha : java.util.List.of(csvSha, idxSha)) {
            java.util.List<Tensor> handed = new java.util.ArrayList<>();
            TensorAllocation recording = a -> {
                Tensor t = a.get();
                handed.add(t);
                return t;
            };
            try (DatasetResolver.Loaded data = catalog.locate(sha).read(recording)) {
                assertEquals(2, handed.size(), "features and labels");
                assertTrue(handed.stream().anyMatch(t -> t == data.train().features()));
                assertTrue(handed.stream().anyMatch(t -> t == data.train().labels()));
                assertEquals(sha.equals(csvSha) ? 3 : 2, data.train().size());
            }
        }
        // a file changed since it was added is refused by the read, not by the lookup
        Files.write(idx.resolve("train-labels-idx1-ubyte"), new byte[] {0, 0, 8, 1, 0, 0, 0, 2, 0, 0});
        DatasetResolver.Reader reader = catalog.locate(idxSha);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> reader.read(TensorAllocation.DIRECT));
        assertTrue(e.getMessage().contains("changed since it was added"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> catalog.locate("0".repeat(64)));
    }

    private static long entries(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.count();
        }
    }
}
