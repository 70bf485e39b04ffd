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

    Csv.Options options() {
        Csv.Options o = Csv.options();
        if (labelColumn != null) {
            o = o.labelColumn(labelColumn);
        }
        if (ignoreColumns != null) {
            o = o.ignoreColumns(ignoreColumns.toArray(new String[0]));
        }
        return o;
    }
}
