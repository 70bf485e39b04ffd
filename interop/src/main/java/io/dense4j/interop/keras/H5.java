package io.dense4j.interop.keras;

import io.jhdf.api.Attribute;
import io.jhdf.api.Dataset;
import io.jhdf.api.Group;
import io.jhdf.api.Node;
import io.jhdf.object.datatype.FloatingPoint;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The few HDF5 reads Keras files need, on top of jHDF, each checking what it is about to allocate against the bytes
 * the file really holds. Strings may be fixed- or variable-length (h5py 2 wrote the former, h5py 3 the latter).
 */
final class H5 {
    /**
     * Keras never compresses; a compressed dataset (weights re-saved with h5py's gzip, say) may still not claim more
     * than this many times its stored bytes. Trained float weights deflate to ~90% of their size, a mostly-zero
     * (pruned) tensor to a few percent; a bigger claim is a memory bomb (1000x let 24 MB become 24 GB of arrays).
     */
    static final long MAX_EXPANSION = 32;

    /** The HDF5 filters jHDF decodes in pure Java here (LZ4, whose codec is native, is left out of the build). */
    static final java.util.Set<String> READABLE_FILTERS = java.util.Set.of("deflate", "shuffle", "fletcher32", "lzf");

    private static final String UNREADABLE_FILTER_ADVICE = "save the weights uncompressed (as Keras does), or with gzip or LZF";

    private H5() {}

    /**
     * Fails when the file is shorter than its superblock's end-of-file address says: a truncated HDF5 file may still
     * open, its tail (e.g. the last weights) missing.
     */
    static void checkComplete(io.jhdf.HdfFile h, long fileBytes, String what) {
        var sb = h.getHdfBackingStorage().getSuperblock();
        long end = sb.getBaseAddressByte() + sb.getEndOfFileAddress();
        if (end > fileBytes || end < 0) {
            throw new IllegalArgumentException(what + " is truncated: its HDF5 superblock says it ends at byte " + end
                    + ", it has " + fileBytes + " bytes");
        }
    }

    /** A scalar string attribute, or null when absent. */
    static String string(Node node, String name) {
        Attribute a = node.getAttribute(name);
        if (a == null) {
            return null;
        }
        Object d = a.getData();
        if (d instanceof String s) {
            return s;
        }
        if (d instanceof byte[] b) {
            return new String(b, java.nio.charset.StandardCharsets.UTF_8);
        }
        if (d != null && d.getClass().isArray() && Array.getLength(d) == 1 && Array.get(d, 0) instanceof String s) {
            return s;
        }
        throw new IllegalArgumentException("attribute '" + name + "' of " + node.getPath() + " is not a string");
    }

    /**
     * A list-of-strings attribute as Keras's save_attributes_to_hdf5_group writes it: {@code name} itself, or when
     * that was too big for an object header, {@code name0}, {@code name1}, ... Empty when absent (an empty list is
     * stored as an empty float array).
     */
    static List<String> strings(Node node, String name) {
        List<String> out = new ArrayList<>();
        if (node.getAttribute(name) != null) {
            addStrings(node.getAttribute(name), out);
            return out;
        }
        for (int chunk = 0; node.getAttribute(name + chunk) != null; chunk++) {
            addStrings(node.getAttribute(name + chunk), out);
        }
        return out;
    }

    private static void addStrings(Attribute a, List<String> out) {
        if (a.isEmpty()) {
            return;
        }
        Object d = a.getData();
        if (d instanceof String s) {
            out.add(s);
            return;
        }
        if (d == null || !d.getClass().isArray()) {
            throw new IllegalArgumentException("attribute '" + a.getName() + "' is not a list of strings");
        }
        int n = Array.getLength(d);
        for (int i = 0; i < n; i++) {
            Object e = Array.get(d, i);
            if (e instanceof String s) {
                out.add(s);
            } else {
                throw new IllegalArgumentException("attribute '" + a.getName() + "' is not a list of strings");
            }
        }
    }

    /** The dataset at {@code path} under {@code group}, or null. */
    static Dataset dataset(Group group, String path) {
        Node n;
        try {
            n = group.getByPath(path);
        } catch (io.jhdf.exceptions.HdfInvalidPathException e) {
            return null; // a path component is missing; any other error is a corrupt file and propagates
        }
        return n instanceof Dataset d ? d : null;
    }

    /** The group at {@code path} under {@code group}, or null. */
    static Group group(Group group, String path) {
        Node n;
        try {
            n = group.getByPath(path);
        } catch (io.jhdf.exceptions.HdfInvalidPathException e) {
            return null;
        }
        return n instanceof Group g ? g : null;
    }

    /**
     * The dataset's values as float32, after checking that it is a floating-point array of exactly {@code shape}
     * (-1 = any positive size, which is then filled in) whose declared size the file really stores.
     *
     * @param what how errors name it, e.g. "kernel of layer 'dense' (Dense)"
     */
    static float[] floats(Dataset ds, long[] shape, String what, long fileBytes) {
        if (!(ds.getDataType() instanceof FloatingPoint fp)) {
            throw new IllegalArgumentException(what + " has HDF5 type " + ds.getDataType().getClass().getSimpleName()
                    + ", not floating point (a quantized or custom layer?)");
        }
        long[] dims = ds.isScalar() ? new long[0] : ds.getDimensionsAsLong();
        if (dims.length != shape.length) {
            throw new IllegalArgumentException(what + " has shape " + Arrays.toString(dims) + ", expected "
                    + shapeText(shape));
        }
        long n = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] <= 0 || (shape[i] >= 0 && dims[i] != shape[i])) {
                throw new IllegalArgumentException(what + " has shape " + Arrays.toString(dims) + ", expected "
                        + shapeText(shape));
            }
            shape[i] = dims[i];
            n = Math.multiplyExact(n, dims[i]);
        }
        int elem = fp.getSize();
        if (elem != 2 && elem != 4 && elem != 8) {
            throw new IllegalArgumentException(what + " has " + elem + "-byte floats");
        }
        // jHDF reads every 2-, 4- and 8-byte float as IEEE binary16, 32 and 64: another layout (bfloat16 written as an
        // HDF5 float type, say) would be misread, so it is refused
        int exponentBits = elem == 2 ? 5 : elem == 4 ? 8 : 11;
        if (fp.getExponentSize() != exponentBits || fp.getMantissaSize() != 8 * elem - 1 - exponentBits
                || fp.getExponentBias() != (1 << (exponentBits - 1)) - 1 || fp.getBitPrecision() != 8 * elem
                || fp.getBitOffset() != 0) {
            throw new IllegalArgumentException(what + " is a " + 8 * elem + "-bit float with " + fp.getExponentSize()
                    + " exponent and " + fp.getMantissaSize() + " mantissa bits, not IEEE 754 binary" + 8 * elem
                    + " (bfloat16?): not supported; save the weights as float16, float32 or float64");
        }
        long declared = Math.multiplyExact(n, elem);
        long stored = ds.getStorageInBytes();
        List<io.jhdf.filter.PipelineFilterWithData> filters;
        try {
            filters = ds.getFilters();
        } catch (io.jhdf.exceptions.HdfFilterException e) { // a filter jHDF does not know (Blosc, Zstandard...)
            throw new IllegalArgumentException(what + " is stored with an HDF5 filter Dense4J does not read ("
                    + e.getMessage() + "): " + UNREADABLE_FILTER_ADVICE, e);
        }
        for (var f : filters) {
            if (!READABLE_FILTERS.contains(f.getName())) {
                throw new IllegalArgumentException(what + " is stored with HDF5 filter '" + f.getName() + "' (id "
                        + f.getId() + "), which Dense4J does not read: " + UNREADABLE_FILTER_ADVICE);
            }
        }
        boolean filtered = !filters.isEmpty();
        if (filtered && stored <= fileBytes && declared > MAX_EXPANSION * stored && n <= Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + " declares " + Arrays.toString(dims) + " (" + declared
                    + " bytes) compressed into " + stored + " bytes, more than " + MAX_EXPANSION + " times smaller: "
                    + "refused as a memory bomb (Keras never compresses weights; save them uncompressed)");
        }
        if (stored > fileBytes || (!filtered && stored < declared) || (filtered && declared > MAX_EXPANSION * stored)
                || n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + " declares " + Arrays.toString(dims) + " (" + declared
                    + " bytes) but the file stores " + stored + " bytes for it (file of " + fileBytes
                    + " bytes): truncated or corrupt");
        }
        Object data = ds.getDataFlat();
        float[] out;
        if (data instanceof float[] f) {
            out = f;
        } else if (data instanceof double[] d) {
            out = new float[d.length];
            for (int i = 0; i < d.length; i++) {
                out[i] = (float) d[i];
            }
        } else {
            throw new IllegalArgumentException(what + " could not be read as floats");
        }
        if (out.length != n) {
            throw new IllegalArgumentException(what + " holds " + out.length + " values, expected " + n);
        }
        for (int i = 0; i < out.length; i++) {
            if (!Float.isFinite(out[i])) {
                throw new IllegalArgumentException(what + " has a non-finite value (" + out[i] + ") at flat index " + i);
            }
        }
        return out;
    }

    private static String shapeText(long[] shape) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            b.append(i == 0 ? "" : ", ").append(shape[i] < 0 ? "?" : Long.toString(shape[i]));
        }
        return b.append(']').toString();
    }
}
