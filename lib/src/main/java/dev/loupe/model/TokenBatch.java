package dev.loupe.model;

import ai.djl.ndarray.NDArray;

/**
 * Several texts as one padded batch: tokens [batch, pos] and attentionMask [batch, pos] (1 for real tokens,
 * 0 for padding). Pass both to {@code forward(tokens, attentionMask)} so padding changes nothing.
 */
public record TokenBatch(NDArray tokens, NDArray attentionMask) {

    /** Where padding goes: after the text (TransformerLens's default) or before it (for generation). */
    public enum PaddingSide { RIGHT, LEFT }
}
