package io.dense4j.plots;

import io.dense4j.io.AtomicFiles;
import io.dense4j.train.EpochLog;
import io.dense4j.train.History;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG charts of training (XChart, rendered headless), shared by the command line ({@code train --plot curves.png}
 * calls {@link #trainingCurves(History, Path)}) and the benchmarks (EndToEnd's training curves and throughput
 * chart, drawn with {@link #style(XYChart)} and {@link #writePng(List, Path)}).
 */
public final class Plots {
    static final int WIDTH = 640, HEIGHT = 440;

    private Plots() {}

    /**
     * Loss and accuracy per epoch, training and (when the history has it) validation, side by side in one
     * PNG. The accuracy panel is left out for a loss without accuracy (mean squared error). The file is
     * written atomically (a temporary file in the same directory, then a move); parent directories are created.
     */
    public static void trainingCurves(History history, Path png) throws IOException {
        List<EpochLog> epochs = history.epochs();
        if (epochs.isEmpty()) {
            throw new IllegalArgumentException("the history has no epoch to plot");
        }
        List<XYChart> charts = new ArrayList<>();
        charts.add(panel(history, "Loss", "loss", "val_loss"));
        if (epochs.stream().anyMatch(e -> !Double.isNaN(e.accuracy()))) {
            charts.add(panel(history, "Accuracy", "accuracy", "val_accuracy"));
        }
        writePng(charts, png);
    }

    private static XYChart panel(History history, String title, String train, String val) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("epoch").yAxisTitle(title.toLowerCase())
                .build();
        style(c);
        List<EpochLog> epochs = history.epochs();
        double[] x = new double[epochs.size()];
        double[] yt = new double[epochs.size()];
        double[] yv = new double[epochs.size()];
        boolean hasVal = false;
        for (int i = 0; i < x.length; i++) {
            x[i] = epochs.get(i).epoch() + 1;
            yt[i] = epochs.get(i).get(train);
            yv[i] = epochs.get(i).get(val);
            hasVal |= !Double.isNaN(yv[i]);
        }
        XYSeries t = c.addSeries("training", x, yt);
        t.setMarker(SeriesMarkers.CIRCLE);
        if (hasVal) {
            XYSeries v = c.addSeries("validation", x, yv);
            v.setMarker(SeriesMarkers.DIAMOND);
        }
        // loss falls and accuracy rises: keep the legend in the corner the curves leave empty
        c.getStyler().setLegendPosition(train.equals("loss") ? Styler.LegendPosition.InsideNE : Styler.LegendPosition.InsideSE);
        if (x.length <= 20) {
            c.getStyler().setXAxisDecimalPattern("0");
        }
        return c;
    }

    /** The common look: white background, legend inside, readable fonts. */
    public static void style(XYChart c) {
        XYStyler s = c.getStyler();
        s.setChartBackgroundColor(Color.WHITE);
        s.setPlotBackgroundColor(Color.WHITE);
        s.setLegendPosition(Styler.LegendPosition.InsideNE);
        s.setLegendBorderColor(Color.LIGHT_GRAY);
        s.setPlotGridLinesColor(new Color(225, 225, 225));
        s.setChartTitleFont(s.getChartTitleFont().deriveFont(16f));
        s.setAxisTitleFont(s.getAxisTitleFont().deriveFont(13f));
        s.setAxisTickLabelsFont(s.getAxisTickLabelsFont().deriveFont(12f));
        s.setLegendFont(s.getLegendFont().deriveFont(12f));
        c.getStyler().setMarkerSize(7);
    }

    /** Renders charts side by side into one PNG, written atomically. */
    public static void writePng(List<XYChart> charts, Path png) throws IOException {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        int w = 0;
        int h = 0;
        List<BufferedImage> images = new ArrayList<>();
        for (XYChart c : charts) {
            BufferedImage img = BitmapEncoder.getBufferedImage(c);
            images.add(img);
            w += img.getWidth();
            h = Math.max(h, img.getHeight());
        }
        BufferedImage all = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = all.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        int x = 0;
        for (BufferedImage img : images) {
            g.drawImage(img, x, 0, null);
            x += img.getWidth();
        }
        g.dispose();
        Path abs = png.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        AtomicFiles.write(abs, ch -> {
            if (!ImageIO.write(all, "png", java.nio.channels.Channels.newOutputStream(ch))) {
                throw new IOException("no PNG writer in this JDK");
            }
        });
    }
}
