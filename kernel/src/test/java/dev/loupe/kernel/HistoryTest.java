package dev.loupe.kernel;

import io.github.spencerpark.jupyter.messages.request.HistoryRequest;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** History requests answered as IPython answers them, entries written as the protocol's arrays. */
class HistoryTest {

    private final History history = new History();

    HistoryTest() {
        history.add(1, "int a = 1;", null);
        history.add(2, "a + 1", "2");
        history.add(3, "a * 10", "10");
        history.add(4, "a + 1", "2");
    }

    private String answer(HistoryRequest request) {
        return history.answer(request).history().toString();
    }

    @Test
    void tailGivesTheLastCellsAndTheirOutputsOnRequest() {
        assertEquals("[[1,3,\"a * 10\"],[1,4,\"a + 1\"]]", answer(new HistoryRequest.Tail(false, true, 2)));
        assertEquals("[[1,1,[\"int a = 1;\",null]],[1,2,[\"a + 1\",\"2\"]],[1,3,[\"a * 10\",\"10\"]],[1,4,[\"a + 1\",\"2\"]]]",
                answer(new HistoryRequest.Tail(true, true, 4)));
        assertEquals("[]", answer(new HistoryRequest.Tail(false, true, 0)));
    }

    @Test
    void rangeStopsBeforeStopOrRunsToTheEndAndKnowsOnlyThisSession() {
        assertEquals("[[1,2,\"a + 1\"],[1,3,\"a * 10\"]]", answer(new HistoryRequest.Range(false, true, 1, 2, 4)));
        assertEquals("[[1,4,\"a + 1\"]]", answer(new HistoryRequest.Range(false, true, 0, 4, 0)));
        assertEquals("[]", answer(new HistoryRequest.Range(false, true, -1, 1, 0)));
    }

    @Test
    void searchMatchesGlobsKeepsTheLatestOfEqualCellsWhenUniqueAndTheLastN() {
        assertEquals("[[1,2,\"a + 1\"],[1,4,\"a + 1\"]]", answer(new HistoryRequest.Search(false, true, 0, "a + *", false)));
        assertEquals("[[1,3,\"a * 10\"],[1,4,\"a + 1\"]]", answer(new HistoryRequest.Search(false, true, 0, "a ? 1*", true)));
        assertEquals("[[1,4,\"a + 1\"]]", answer(new HistoryRequest.Search(false, true, 1, "a*", false)));
    }

    @Test
    void globsAreSqlitesWholeStringCaseSensitivePatterns() {
        assertTrue(History.glob("List.of(*").matcher("List.of(1,\n 2)").matches());
        assertFalse(History.glob("List.of(*").matcher("ListXof(1)").matches());
        assertFalse(History.glob("list*").matcher("List.of(1)").matches());
        assertTrue(History.glob("[a-c]?[^x]").matcher("b1y").matches());
        assertFalse(History.glob("[a-c]?[^x]").matcher("b1x").matches());
        assertTrue(History.glob("[]\\[]").matcher("\\").matches());
    }
}
