package dev.loupe.cache;

import ai.djl.ndarray.NDArray;

import java.util.List;

/**
 * Components of the residual stream stacked on a first axis, with a label for each: [component, batch, pos,
 * d_model], or [component, batch, d_model] at one position.
 */
public record LabelledStack(NDArray values, List<String> labels) {

    public LabelledStack {
        if (values.getShape().get(0) != labels.size()) {
            throw new IllegalArgumentException(labels.size() + " labels for " + values.getShape().get(0) + " components");
        }
    }

    /** The component with this label. */
    public NDArray get(String label) {
        int i = labels.indexOf(label);
        if (i < 0) {
            throw new IllegalArgumentException("No component '" + label + "'; there are " + labels);
        }
        return values.get(i);
    }

    /** The sum of all components: the residual stream they decompose. */
    public NDArray sum() {
        return values.sum(new int[] {0});
    }

    @Override
    public String toString() {
        return "LabelledStack " + values.getShape() + " " + (labels.size() <= 8 ? labels : labels.subList(0, 8) + "…");
    }
}
