package dev.loupe.plot;

/**
 * A result that shows as a labelled heatmap (a patching sweep over [layer, pos], scores per head, ...), so that
 * {@link Plot#heatmap(AsHeatmap)} draws it; the result knows its axes, labels and title.
 */
public interface AsHeatmap {

    Heatmap heatmap();
}
