package dev.loupe.tasks.superposition;

import dev.loupe.tasks.superposition.PhaseDiagram.Phase;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class PhaseDiagramTest {

    @Test
    void classifiesHandBuiltOneNeuronModels() {
        assertEquals(Phase.NOT_REPRESENTED, PhaseDiagram.classify(new double[][] {{1.0, 0.02}}, 1));
        assertEquals(Phase.DEDICATED, PhaseDiagram.classify(new double[][] {{0.01, 1.0}}, 1));
        assertEquals(Phase.SUPERPOSITION, PhaseDiagram.classify(new double[][] {{1.0, -0.95}}, 1), "antipodal pair");
        // a long extra feature with a short partner: too little of the partner along it to count as shared
        assertEquals(Phase.DEDICATED, PhaseDiagram.classify(new double[][] {{0.3, 1.0}}, 1));
    }

    @Test
    void classifiesInMoreDimensions() {
        // feature 2 alone on the second axis; feature 1 antipodal to feature 0 on the first
        double[][] w = {{1, -1, 0, 0}, {0, 0, 1, 0}};
        assertEquals(Phase.SUPERPOSITION, PhaseDiagram.classify(w, 1));
        assertEquals(Phase.DEDICATED, PhaseDiagram.classify(w, 2));
        assertEquals(Phase.NOT_REPRESENTED, PhaseDiagram.classify(w, 3));
    }

    @Test
    void aGridOfHandBuiltCellsCountsItsPhases() {
        double[][][] weights = {
            {{0.0, 1.0}, {1.0, -1.0}},   // important extra feature: dedicated when dense, shared when sparse
            {{1.0, 0.0}, {1.0, -1.0}},   // unimportant one: dropped when dense, shared when sparse
        };
        PhaseDiagram d = new PhaseDiagram(new double[] {1, 0.01}, new double[] {10, 0.1}, weights);
        assertEquals(Phase.DEDICATED, d.at(0, 0));
        assertEquals(Phase.NOT_REPRESENTED, d.at(1, 0));
        assertArrayEquals(new int[] {1, 1, 2}, d.counts());
        assertEquals("Category map \"Extra feature in one neuron: phase of the lowest-loss model\" [2 x 2]: not represented 1,"
                + " dedicated dimension 1, superposition 2", d.map().text());
    }

    @Test
    void logGridRunsFromEndToEnd() {
        assertArrayEquals(new double[] {1, 0.1, 0.01}, Superposition.logGrid(1, 0.01, 3), 1e-12);
    }
}
