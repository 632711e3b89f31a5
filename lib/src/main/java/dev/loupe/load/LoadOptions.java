package dev.loupe.load;

import ai.djl.ndarray.types.DataType;

/**
 * How {@code fromPretrained} processes weights, TransformerLens's keyword arguments: fold_ln,
 * center_writing_weights, center_unembed, fold_value_biases, dtype, revision. The defaults are
 * TransformerLens's: every step on, float32, the main revision.
 */
public record LoadOptions(boolean foldLn, boolean centerWritingWeights, boolean centerUnembed,
                          boolean foldValueBiases, DataType dtype, String revision) {

    public static LoadOptions defaults() {
        return new LoadOptions(true, true, true, true, DataType.FLOAT32, null);
    }

    /** No processing: the weights exactly as the checkpoint has them (fromPretrainedNoProcessing). */
    public static LoadOptions noProcessing() {
        return new LoadOptions(false, false, false, false, DataType.FLOAT32, null);
    }

    public LoadOptions foldLn(boolean v) { return new LoadOptions(v, centerWritingWeights, centerUnembed, foldValueBiases, dtype, revision); }
    public LoadOptions centerWritingWeights(boolean v) { return new LoadOptions(foldLn, v, centerUnembed, foldValueBiases, dtype, revision); }
    public LoadOptions centerUnembed(boolean v) { return new LoadOptions(foldLn, centerWritingWeights, v, foldValueBiases, dtype, revision); }
    public LoadOptions foldValueBiases(boolean v) { return new LoadOptions(foldLn, centerWritingWeights, centerUnembed, v, dtype, revision); }
    public LoadOptions dtype(DataType v) { return new LoadOptions(foldLn, centerWritingWeights, centerUnembed, foldValueBiases, v, revision); }
    public LoadOptions revision(String v) { return new LoadOptions(foldLn, centerWritingWeights, centerUnembed, foldValueBiases, dtype, v); }
}
