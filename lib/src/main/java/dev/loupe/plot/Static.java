package dev.loupe.plot;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.util.List;
import java.util.function.Consumer;

import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;

/**
 * What the XChart renderings share: a plain white style in the fonts of the rest of Loupe, label thinning, and titles.
 * XChart centres a title over the plot area and cuts it at the figure's edges; Loupe draws it itself, left-aligned
 * above the chart, and sizes figures so that it fits.
 */
final class Static {

    private Static() {}

    static final Font TITLE_FONT = Drawing.FONT.deriveFont(Font.BOLD, 13f);
    /** Height of the band above the chart that holds the title. */
    static final int TITLE_H = 22;
    private static final FontMetrics TITLE_METRICS = Drawing.metrics(TITLE_FONT);

    /** Width of a title as drawn, with its margins. */
    static int titleWidth(String title) {
        return title.isEmpty() ? 0 : TITLE_METRICS.stringWidth(title) + 16;
    }

    /**
     * Draws {@code title} in a band at the top of a {@code width}-pixel figure and {@code chart} below it (into a
     * graphics translated past the band); without a title the chart gets the whole figure.
     */
    static void titled(Graphics2D g, String title, Consumer<Graphics2D> chart) {
        if (title.isEmpty()) {
            chart.accept(g);
            return;
        }
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(TITLE_FONT);
        g.setColor(new Color(0x333333));
        g.drawString(title, 8, 16);
        Graphics2D below = (Graphics2D) g.create();
        below.translate(0, TITLE_H);
        chart.accept(below);
        below.dispose();
    }

    static void style(AxesChartStyler st) {
        st.setChartBackgroundColor(Color.WHITE);
        st.setPlotBackgroundColor(Color.WHITE);
        st.setPlotBorderVisible(false);
        st.setChartTitleBoxVisible(false);
        st.setLegendBorderColor(Color.WHITE);
        st.setChartFontColor(new Color(0x333333));
        st.setAxisTickLabelsColor(new Color(0x333333));
        st.setPlotGridLinesColor(new Color(0xeeeeee));
        st.setChartTitleFont(Drawing.FONT.deriveFont(Font.BOLD, 13f));
        st.setAxisTitleFont(Drawing.FONT.deriveFont(12f));
        st.setAxisTickLabelsFont(Drawing.FONT);
        st.setLegendFont(Drawing.FONT);
        st.setChartPadding(6);
        st.setLegendPosition(Styler.LegendPosition.OutsideS);
    }

    /** Category labels shortened to 24 characters (XChart leaves out those that would overlap). */
    static List<String> labels(List<String> labels) {
        return labels.stream().map(Heatmap::clip).toList();
    }
}
