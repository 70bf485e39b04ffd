/**
 * PNG training charts (XChart), for the command line's {@code train --plot} and the benchmarks. XChart's types
 * appear in the API ({@code Plots.style(XYChart)}), so a reader of this module reads XChart too.
 */
module io.dense4j.plots {
    requires io.dense4j;
    requires transitive org.knowm.xchart;
    requires java.desktop;

    exports io.dense4j.plots;
}
