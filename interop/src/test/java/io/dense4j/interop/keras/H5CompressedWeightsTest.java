package io.dense4j.interop.keras;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Weights re-saved compressed (fixture compressed.h5, written by make_keras_fixtures.py): a pruned kernel that
 * deflates ~5x reads as its uncompressed copy, gzip or LZF; under LZ4 (not in this build) or Blosc (unknown to
 * jHDF) it is refused, naming the filter; a kernel of zeros claiming ~960x its stored bytes is refused before jHDF
 * inflates it (H5.MAX_EXPANSION).
 */
class H5CompressedWeightsTest {
    private static final Path FILE = KerasFixturesTest.DIR.resolve("compressed.h5");

    @Test
    void aCompressedPrunedKernelReadsAsItsUncompressedCopy() throws IOException {
        try (HdfFile h = new HdfFile(FILE)) {
            long size = Files.size(FILE);
            Dataset packed = h.getDatasetByPath("pruned_gzip");
            assertTrue(!packed.getFilters().isEmpty(), "the fixture's kernel is filtered");
            long ratio = 1000L * 31 * 4 / packed.getStorageInBytes();
            assertTrue(ratio >= 2 && ratio < H5.MAX_EXPANSION, "the fixture's ratio: " + ratio);
            float[] plain = H5.floats(h.getDatasetByPath("pruned_plain"), new long[] {1000, 31}, "the kernel", size);
            float[] inflated = H5.floats(packed, new long[] {1000, 31}, "the kernel", size);
            assertArrayEquals(plain, inflated);
            assertArrayEquals(plain, H5.floats(h.getDatasetByPath("pruned_lzf"), new long[] {1000, 31}, "the kernel", size));
            long zeros = 0;
            for (float v : plain) {
                zeros += v == 0f ? 1 : 0;
            }
            assertTrue(zeros > 25_000 && zeros < plain.length, "pruned, not empty: " + zeros + " zeros");
        }
    }

    @Test
    void aKernelUnderAFilterThisBuildDoesNotReadIsRefusedByName() throws IOException {
        try (HdfFile h = new HdfFile(FILE)) {
            long size = Files.size(FILE);
            var lz4 = assertThrows(IllegalArgumentException.class, () -> H5.floats(h.getDatasetByPath("pruned_lz4"),
                    new long[] {1000, 31}, "the kernel", size));
            assertEquals("the kernel is stored with HDF5 filter 'lz4' (id 32004), which Dense4J does not read: save the "
                    + "weights uncompressed (as Keras does), or with gzip or LZF", lz4.getMessage());
            var blosc = assertThrows(IllegalArgumentException.class, () -> H5.floats(h.getDatasetByPath("pruned_blosc"),
                    new long[] {1000, 31}, "the kernel", size));
            assertTrue(blosc.getMessage().startsWith("the kernel is stored with an HDF5 filter Dense4J does not read (")
                    && blosc.getMessage().contains("32001")
                    && blosc.getMessage().endsWith("): save the weights uncompressed (as Keras does), or with gzip or LZF"),
                    blosc.getMessage());
        }
    }

    @Test
    void aKernelClaimingFarMoreThanItStoresIsRefusedBeforeItIsInflated() throws IOException {
        try (HdfFile h = new HdfFile(FILE)) {
            long size = Files.size(FILE);
            Dataset bomb = h.getDatasetByPath("zeros_gzip");
            long stored = bomb.getStorageInBytes();
            assertTrue(1000L * 784 * 4 > H5.MAX_EXPANSION * stored, "the fixture's claim: " + stored + " bytes stored");
            var e = assertThrows(IllegalArgumentException.class,
                    () -> H5.floats(bomb, new long[] {1000, 784}, "the kernel of layer 'dense' (Dense)", size));
            assertEquals("the kernel of layer 'dense' (Dense) declares [1000, 784] (3136000 bytes) compressed into "
                    + stored + " bytes, more than 32 times smaller: refused as a memory bomb (Keras never compresses "
                    + "weights; save them uncompressed)", e.getMessage());
        }
    }
}
