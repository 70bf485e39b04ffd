package io.dense4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CsvTest {
    @TempDir
    Path dir;

    Path csv(String content) throws IOException {
        return Files.writeString(dir.resolve("data.csv"), content, StandardCharsets.UTF_8);
    }

    DataFormatException error(String content, Csv.Options o) throws IOException {
        Path f = csv(content);
        DataFormatException e = assertThrows(DataFormatException.class, () -> Csv.read(f, o));
        assertTrue(e.getMessage().startsWith(f.toString()), "message names the file: " + e.getMessage());
        // the check without loading refuses the same file with the same words
        DataFormatException checked = assertThrows(DataFormatException.class, () -> Csv.inspect(f, o));
        assertEquals(e.getMessage(), checked.getMessage());
        return e;
    }

    /** What inspect says of a file is what read loads from it: rows, features, classes, names. */
    void assertInspectMatchesRead(Path f, Csv.Options o) throws IOException {
        Csv.Summary s = Csv.inspect(f, o);
        try (Dataset d = Csv.read(f, o)) {
            assertEquals(d.size(), s.rows());
            assertEquals(d.numFeatures(), s.features());
            assertEquals(d.hasLabels() ? d.numClasses() : 0, s.numClasses());
            assertEquals(d.classNames(), s.classNames());
        }
    }

    @Test
    void inspectSaysWhatReadLoads() throws IOException {
        // past the first capacities of the per-row arrays (1024, then half as much again, ...), labels in random order
        java.util.Random rnd = new java.util.Random(11);
        String[] names = {"cat", "dog", "emu", "yak"};
        StringBuilder ints = new StringBuilder("a,b,y\n");
        StringBuilder words = new StringBuilder("a,y,b\n");
        StringBuilder targets = new StringBuilder("a,b,t\n");
        int rows = 5000;
        int[] expected = new int[rows];
        for (int r = 0; r < rows; r++) {
            expected[r] = rnd.nextInt(7);
            ints.append(r).append(',').append(-r).append(',').append(expected[r]).append('\n');
            words.append(r).append(',').append(names[expected[r] % 4]).append(',').append(r * 0.5).append('\n');
            targets.append(r).append(',').append(1).append(',').append(r * 0.25f).append('\n');
        }
        Path f = csv(ints.toString());
        assertInspectMatchesRead(f, Csv.options());
        try (Dataset d = Csv.read(f)) {
            assertArrayEquals(expected, d.labels().toIntArray());
            assertEquals(new Csv.Summary(rows, 2, 7, List.of()), Csv.inspect(f, Csv.options()));
        }
        f = csv(words.toString());
        assertInspectMatchesRead(f, Csv.options().labelColumn("y"));
        assertInspectMatchesRead(f, Csv.options().labelColumn("y").classNames(List.of("yak", "emu", "dog", "cat")));
        assertEquals(new Csv.Summary(rows, 2, 4, List.of(names)), Csv.inspect(f, Csv.options().labelColumn("y")));
        try (Dataset d = Csv.read(f, Csv.options().labelColumn("y"))) {
            int[] y = d.labels().toIntArray();
            for (int r = 0; r < rows; r++) {
                assertEquals(expected[r] % 4, y[r], "row " + r);
            }
        }
        f = csv(targets.toString());
        Csv.Options regression = Csv.options().labelKind(Csv.LabelKind.REGRESSION);
        assertInspectMatchesRead(f, regression);
        assertEquals(new Csv.Summary(rows, 2, 0, List.of()), Csv.inspect(f, regression));
        try (Dataset d = Csv.read(f, regression)) {
            float[] t = d.targets().toFloatArray();
            assertEquals(rows, t.length);
            for (int r = 0; r < rows; r++) {
                assertEquals(r * 0.25f, t[r], "row " + r);
            }
        }
    }

    @Test
    void happyPathIntegerLabelsInLastColumn() throws IOException {
        try (Dataset d = Csv.read(csv("a,b,label\n1,2,0\n3.5,-4e-1,2\n\n5,6,1\n"))) {
            assertEquals(3, d.size());
            assertEquals(2, d.numFeatures());
            assertArrayEquals(new float[] {1, 2, 3.5f, -0.4f, 5, 6}, d.features().toFloatArray());
            assertArrayEquals(new int[] {0, 2, 1}, d.labels().toIntArray());
            assertEquals(3, d.numClasses());
            assertTrue(d.classNames().isEmpty(), "integer labels are indices, not names");
        }
    }

    @Test
    void stringLabelsBecomeSortedClassNames() throws IOException {
        String iris = "sepal_length,species,sepal_width\r\n"
                + "5.1,setosa,3.5\r\n"
                + "7.0,versicolor,3.2\r\n"
                + "6.3,virginica,3.3\r\n"
                + "4.9,setosa,3.0\r\n";
        try (Dataset d = Csv.read(csv(iris), Csv.options().labelColumn("species"))) {
            assertEquals(List.of("setosa", "versicolor", "virginica"), d.classNames());
            assertArrayEquals(new int[] {0, 1, 2, 0}, d.labels().toIntArray());
            assertArrayEquals(new float[] {5.1f, 3.5f, 7.0f, 3.2f, 6.3f, 3.3f, 4.9f, 3.0f},
                    d.features().toFloatArray());
        }
        try (Dataset d = Csv.read(csv(iris), Csv.options().labelColumn(1)
                .classNames(List.of("virginica", "versicolor", "setosa")))) {
            assertArrayEquals(new int[] {2, 1, 0, 2}, d.labels().toIntArray());
            assertEquals(3, d.numClasses());
        }
        var e = error(iris, Csv.options().labelColumn(1).classNames(List.of("setosa", "versicolor")));
        assertTrue(e.getMessage().contains("line 4") && e.getMessage().contains("'virginica' is not one of"),
                e.getMessage());
    }

    @Test
    void quotedFields() throws IOException {
        String text = "\uFEFF\"x, the first\",\"y\"\"s\",kind\n"
                + "\"1.5\", 2 ,\"cat, big\"\n"
                + "3,4,\"dog\n(multi-line)\"\n"
                + "5,6,\"say \"\"hi\"\"\"\n"
                + "7,8,\"cat, big\"\n";
        try (Dataset d = Csv.read(csv(text))) {
            assertEquals(List.of("cat, big", "dog\n(multi-line)", "say \"hi\""), d.classNames());
            assertArrayEquals(new int[] {0, 1, 2, 0}, d.labels().toIntArray());
            assertArrayEquals(new float[] {1.5f, 2, 3, 4, 5, 6, 7, 8}, d.features().toFloatArray());
        }
        // line numbers count the physical lines inside quoted fields
        var e = error("a,b\n\"x\ny\",1\n2,oops\n", Csv.options().labelColumn(0));
        assertTrue(e.getMessage().contains("line 4, column 2 ('b')"), e.getMessage());
        e = error("a,b\n1,\"open\n", Csv.options());
        assertTrue(e.getMessage().contains("line 2: quoted field is never closed"), e.getMessage());
        e = error("a,b\n1,\"x\"y\n", Csv.options());
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("after a closing quote"),
                e.getMessage());
    }

    @Test
    void regressionTargetsAndOptions() throws IOException {
        try (Dataset d = Csv.read(csv("id;x1;x2;price\n17;1;2;10.5\n18;3;4;-2\n"),
                Csv.options().delimiter(';').labelKind(Csv.LabelKind.REGRESSION).ignoreColumns("id"))) {
            assertFalse(d.hasLabels());
            assertArrayEquals(new long[] {2, 1}, d.targets().shape());
            assertArrayEquals(new float[] {10.5f, -2f}, d.targets().toFloatArray());
            assertArrayEquals(new float[] {1, 2, 3, 4}, d.features().toFloatArray());
        }
        try (Dataset d = Csv.read(csv("1\t2\t1\n3\t4\t0\n"), Csv.options().delimiter('\t').header(false))) {
            assertArrayEquals(new int[] {1, 0}, d.labels().toIntArray());
            assertEquals(2, d.numFeatures());
        }
        var e = error("x,price\n1,\n", Csv.options().labelKind(Csv.LabelKind.REGRESSION));
        assertTrue(e.getMessage().contains("line 2, column 2 ('price'): missing value"), e.getMessage());
    }

    @Test
    void errorsNameLineAndColumn() throws IOException {
        var e = error("a,b,c\n1,2,0\n3,,1\n", Csv.options());
        assertTrue(e.getMessage().contains("line 3, column 2 ('b'): missing value"), e.getMessage());
        e = error("a,b,c\n1,NA,0\n", Csv.options());
        assertTrue(e.getMessage().contains("line 2, column 2 ('b'): missing value 'NA'"), e.getMessage());
        e = error("a,b,c\n1,2,0\n1,x7,0\n", Csv.options());
        assertTrue(e.getMessage().contains("line 3, column 2 ('b'): not a number: 'x7'"), e.getMessage());
        e = error("a,b,c\n1,Infinity,0\n", Csv.options());
        assertTrue(e.getMessage().contains("not a number: 'Infinity'"), e.getMessage());
        e = error("a,b,c\n1,1e39,0\n", Csv.options());
        assertTrue(e.getMessage().contains("outside the float32 range"), e.getMessage());
        e = error("a,b,c\n1,2\n", Csv.options());
        assertTrue(e.getMessage().contains("line 2: expected 3 fields, found 2"), e.getMessage());
        e = error("a,b,c\n1,2,\n", Csv.options());
        assertTrue(e.getMessage().contains("line 2, column 3 ('c'): missing label"), e.getMessage());
        e = error("a,b,c\n1,2,3\n", Csv.options().labelColumn("label"));
        assertTrue(e.getMessage().contains("no label column 'label' among [a, b, c]"), e.getMessage());
        e = error("a,b,c\n", Csv.options());
        assertTrue(e.getMessage().contains("no data rows"), e.getMessage());
        e = error("", Csv.options());
        assertTrue(e.getMessage().contains("empty file"), e.getMessage());
        e = error("a,b\n1,2\n", Csv.options().labelColumn(5));
        assertTrue(e.getMessage().contains("label column index 5"), e.getMessage());
    }

    @Test
    void strictNumbers() {
        for (String ok : List.of("0", "-1", "+2.5", ".5", "5.", "1e3", "1E-3", "-0.25e+2")) {
            assertTrue(Csv.isDecimal(ok), ok);
        }
        for (String bad : List.of("", "-", ".", "e3", "1e", "1f", "0x10", "NaN", "Infinity", "1,5", "1 2", "١")) {
            assertFalse(Csv.isDecimal(bad), bad);
        }
    }

    /**
     * What the reader holds is bounded whatever a file says: a 20-byte file whose label claims a billion classes, a
     * label column of more distinct values than a classifier can have, one record of more fields or characters than
     * a row can have. Before these bounds, each was an OutOfMemoryError (a server reading an upload went down with it).
     */
    @Test
    void hostileFilesAreRefusedBeforeTheyCanExhaustMemory() throws IOException {
        var e = error("a,label\n0,999999999\n1,0\n", Csv.options());
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("at most " + Csv.MAX_CLASSES),
                e.getMessage());
        // the largest integer label allowed still reads
        try (Dataset d = Csv.read(csv("a,label\n0," + (Csv.MAX_CLASSES - 1) + "\n1,0\n"))) {
            assertEquals(Csv.MAX_CLASSES, d.numClasses());
        }

        StringBuilder ids = new StringBuilder("x,id\n");
        for (int i = 0; i <= Csv.MAX_CLASSES; i++) {
            ids.append("1,r").append(i).append('\n');
        }
        e = error(ids.toString(), Csv.options());
        assertTrue(e.getMessage().contains("line " + (Csv.MAX_CLASSES + 2))
                && e.getMessage().contains("more than " + Csv.MAX_CLASSES + " distinct labels"), e.getMessage());

        e = error("a,label\n1," + "y".repeat(Csv.MAX_LABEL_CHARS + 1) + "\n", Csv.options());
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("at most " + Csv.MAX_LABEL_CHARS),
                e.getMessage());
        try (Dataset d = Csv.read(csv("a,label\n1," + "y".repeat(Csv.MAX_LABEL_CHARS) + "\n"))) {
            assertEquals(List.of("y".repeat(Csv.MAX_LABEL_CHARS)), d.classNames());
        }

        // one record wider than any row may be: refused while it is read, and no message lists every column
        String wide = "1,".repeat(Csv.MAX_COLUMNS) + "0\n";
        e = error("a,label\n" + wide, Csv.options());
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("more than " + Csv.MAX_COLUMNS
                + " fields"), e.getMessage());
        e = error("c".repeat(Csv.MAX_COLUMNS / 2).replace("c", "c,") + "label\n", Csv.options().labelColumn("nope"));
        assertTrue(e.getMessage().length() < 1000 && e.getMessage().contains("in all)"), e.getMessage().length() + " chars");

        // one quoted field longer than a record may be
        Path f = dir.resolve("long.csv");
        try (var w = Files.newBufferedWriter(f, StandardCharsets.UTF_8)) {
            w.write("a,label\n1,\"");
            char[] chunk = new char[1 << 16];
            java.util.Arrays.fill(chunk, 'x');
            for (int i = 0; i <= Csv.MAX_RECORD_CHARS / chunk.length; i++) {
                w.write(chunk);
            }
            w.write("\"\n");
        }
        e = assertThrows(DataFormatException.class, () -> Csv.read(f, Csv.options()));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("longer than"), e.getMessage());
    }

    @Test
    void labelsMapToClassesAsBefore() throws IOException {
        // integer labels spelled two ways are one class index; explicit names report the first row of an unknown label
        try (Dataset d = Csv.read(csv("a,label\n1,007\n2,7\n3,0\n"))) {
            assertArrayEquals(new int[] {7, 7, 0}, d.labels().toIntArray());
            assertEquals(8, d.numClasses());
        }
        var e = error("a,label\n1,b\n2,z\n3,y\n4,z\n", Csv.options().classNames(List.of("a", "b")));
        assertTrue(e.getMessage().contains("line 3") && e.getMessage().contains("'z' is not one of [a, b]"),
                e.getMessage());
    }
}
