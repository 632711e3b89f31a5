package dev.loupe.patching;

import ai.djl.ndarray.types.Shape;

import dev.loupe.tensor.Tensors;

import java.util.List;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PatchingResultAtTest {

    /** A [2, 3] sweep whose cell (l, p) holds 10·l + p: at(l, p) reads it back; a wrong number of indices is refused. */
    @Test
    void atReadsOneCellByLayerAndPosition() {
        float[] v = {0, 1, 2, 10, 11, 12};
        var r = new PatchingResult("t", Tensors.ofFloats(v, new Shape(2, 3)), List.of("layer", "pos"),
                List.of(List.of("0", "1"), List.of("a", "b", "c")));
        assertEquals(12, r.at(1, 2));
        assertEquals(1, r.at(0, 1));
        assertThrows(IllegalArgumentException.class, () -> r.at(1));
    }
}
