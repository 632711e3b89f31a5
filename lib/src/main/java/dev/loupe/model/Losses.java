package dev.loupe.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Next-token losses from logits. */
final class Losses {

    private Losses() {}

    /** −log p(token[i+1] | tokens[..i]) from logits [batch, pos, vocab]: [batch, pos - 1]. */
    static NDArray crossEntropyPerToken(NDArray logits, NDArray tokens) {
        long pos = logits.getShape().get(1);
        if (pos < 2) {
            throw new IllegalArgumentException("Next-token loss needs at least 2 positions, got " + pos);
        }
        NDArray logProbs = logits.get(":, :-1, :").logSoftmax(-1);
        NDArray next = tokens.reshape(logits.getShape().get(0), pos).get(":, 1:").toType(DataType.INT64, false);
        return logProbs.gather(next.expandDims(-1), -1).squeeze(-1).neg();
    }
}
