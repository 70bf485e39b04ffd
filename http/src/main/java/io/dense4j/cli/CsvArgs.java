package io.dense4j.cli;

import io.dense4j.data.Csv;
import java.util.List;
import picocli.CommandLine.Option;

/** The CSV options shared by train, evaluate and predict (a picocli mixin). */
public final class CsvArgs {
    @Option(names = "--label-column", description = "CSV label column name (default: the last column)")
    String labelColumn;

    @Option(names = "--ignore-columns", split = ",", description = "CSV columns that are not features, e.g. id")
    List<String> ignoreColumns;

    @Option(names = "--regression", description = "CSV: the label column holds numeric targets, not classes "
            + "(train with --loss mean_squared_error and a linear output layer)")
    boolean regression;

    @Option(names = "--delimiter", description = "CSV field delimiter: one character, or tab (default ,)")
    String delimiter;

    Csv.Options options() {
        Csv.Options o = Csv.options();
        if (delimiter != null) {
            String d = delimiter.equals("tab") || delimiter.equals("\\t") ? "\t" : delimiter;
            if (d.length() != 1) {
                throw new IllegalArgumentException("--delimiter must be one character (or tab), got '" + delimiter + "'");
            }
            o = o.delimiter(d.charAt(0));
        }
        if (regression) {
            o = o.labelKind(Csv.LabelKind.REGRESSION);
        }
        if (labelColumn != null) {
            o = o.labelColumn(labelColumn);
        }
        if (ignoreColumns != null) {
            o = o.ignoreColumns(ignoreColumns.toArray(new String[0]));
        }
        return o;
    }
}
