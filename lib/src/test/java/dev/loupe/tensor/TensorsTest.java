package dev.loupe.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** item(): TransformerLens's x[l, h].item() for arrays of any type. */
class TensorsTest {

    @Test
    void itemReadsOneElementOfAnyTypeWithNegativeIndicesFromTheEnd() {
        NDArray x = Tensors.ofFloats(new float[] {0, 1, 2, 3, 4, 5.5f}, new Shape(2, 3)); // float32: getDouble refuses it
        assertEquals(5.5, Tensors.item(x, 1, 2));
        assertEquals(5.5, Tensors.item(x, -1, -1));
        assertEquals(1.0, Tensors.item(x, 0, 1));
        assertEquals(5.5, Tensors.item(x.max()));
        assertEquals(3.0, Tensors.item(x.toType(DataType.INT64, false), 1, 0));
        assertEquals(1.0, Tensors.item(x.gt(4), 1, 2)); // booleans as 0 and 1
        IllegalArgumentException many = assertThrows(IllegalArgumentException.class, () -> Tensors.item(x));
        assertTrue(many.getMessage().contains("(2, 3)") && many.getMessage().contains("Tensors.item(x, 0, 0)"), many.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensors.item(x, 1));
        IndexOutOfBoundsException out = assertThrows(IndexOutOfBoundsException.class, () -> Tensors.item(x, 0, 3));
        assertTrue(out.getMessage().contains("axis 1"), out.getMessage());
    }
}
