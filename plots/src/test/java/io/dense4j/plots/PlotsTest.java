package io.dense4j.plots;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.train.EpochLog;
import io.dense4j.train.History;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotsTest {
    @TempDir
    Path dir;

    @Test
    void writesLossAndAccuracyPanels() throws Exception {
        History h = new History();
        for (int e = 0; e < 5; e++) {
            h.add(new EpochLog(e, 1.0 / (e + 1), 0.7 + 0.03 * e, 1.1 / (e + 1), 0.68 + 0.03 * e, 1e-3, 0.5));
        }
        Path png = dir.resolve("sub/curves.png");
        Plots.trainingCurves(h, png);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(2 * Plots.WIDTH, img.getWidth());
        assertEquals(Plots.HEIGHT, img.getHeight());
        try (var s = Files.list(png.getParent())) {
            assertEquals(1, s.count(), "no temporary file is left behind");
        }
    }

    @Test
    void lossOnlyWithoutAccuracyOrValidation() throws Exception {
        History h = new History();
        h.add(new EpochLog(0, 0.5, Double.NaN, Double.NaN, Double.NaN, 1e-3, 0.1));
        Path png = dir.resolve("mse.png");
        Plots.trainingCurves(h, png);
        assertEquals(Plots.WIDTH, ImageIO.read(png.toFile()).getWidth());
        assertThrows(IllegalArgumentException.class, () -> Plots.trainingCurves(new History(), dir.resolve("x.png")));
        assertTrue(Files.exists(png));
    }
}
