package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;

import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.patching.Metrics;
import dev.loupe.tasks.ioi.IoiDataset.Corruption;
import dev.loupe.tasks.ioi.IoiPrompt.Order;
import dev.loupe.tasks.ioi.IoiPrompt.Word;
import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Gpt2Tokenizer;
import dev.loupe.tokenize.SubsetTokenizer;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IoiDatasetTest {

    private final Gpt2Tokenizer gpt2 = Gpt2Tokenizer.bundled();

    @Test
    void aTemplateIsFilledInBothOrders() {
        String template = IoiTemplates.TEMPLATES.get(0);
        IoiPrompt baba = IoiPrompt.of(template, "Mary", "John", "store", "drink");
        assertEquals("Then, John and Mary went to the store. John gave a drink to", baba.text());
        assertEquals(" Mary", baba.answer());
        assertEquals(Order.BABA, baba.order());
        IoiPrompt abba = IoiPrompt.of(IoiPrompt.swapFirstClause(template), "Mary", "John", "store", "drink");
        assertEquals("Then, Mary and John went to the store. John gave a drink to", abba.text());
        assertEquals(Order.ABBA, abba.order());
        assertEquals(template, IoiPrompt.swapFirstClause(IoiPrompt.swapFirstClause(template)));
        // The object appears twice in template 7; the place and object fill every slot.
        IoiPrompt twice = IoiPrompt.of(IoiTemplates.TEMPLATES.get(7), "Amy", "Paul", "school", "ring");
        assertEquals("When Paul and Amy got a ring at the school, Paul decided to give the ring to", twice.text());
        assertEquals("When Paul and Amy got a ring at the school,", twice.textBefore(Word.S2));
        assertEquals("When Paul and", twice.textBefore(Word.IO));
        assertEquals("When", twice.textBefore(Word.S1));
    }

    @Test
    void theEightStandardPromptsAreTransformerLenssInItsOrder() {
        List<String> expected = List.of(
                "When John and Mary went to the shops, John gave the bag to",
                "When John and Mary went to the shops, Mary gave the bag to",
                "When Tom and James went to the park, James gave the ball to",
                "When Tom and James went to the park, Tom gave the ball to",
                "When Dan and Sid went to the shops, Sid gave an apple to",
                "When Dan and Sid went to the shops, Dan gave an apple to",
                "After Martin and Amy went to the park, Amy gave a drink to",
                "After Martin and Amy went to the park, Martin gave a drink to");
        List<String> answers = List.of(" Mary", " John", " Tom", " James", " Dan", " Sid", " Martin", " Amy");
        List<String> wrong = List.of(" John", " Mary", " James", " Tom", " Sid", " Dan", " Amy", " Martin");
        IoiDataset d = IoiDataset.of(gpt2, true, IoiDataset.standardPrompts());
        assertEquals(expected, d.texts());
        assertArrayEquals(answers.stream().mapToInt(a -> gpt2.encode(a)[0]).toArray(), d.ioTokens());
        assertArrayEquals(wrong.stream().mapToInt(a -> gpt2.encode(a)[0]).toArray(), d.sTokens());
        assertArrayEquals(new int[] {15, 15, 15, 15, 15, 15, 15, 15}, d.lengths(), "the demo's 'Prompt length: 15'");
        assertTrue(d.endsAligned());

        // The demo's corrupted prompts swap each pair: prompt 0's text becomes prompt 1's, and so on.
        IoiDataset flipped = d.corrupted(Corruption.S2_IO, 0);
        for (int i = 0; i < 8; i++) {
            assertEquals(expected.get(i ^ 1), flipped.texts().get(i));
        }
    }

    @Test
    void positionsAreCountedByHandWithBos() {
        IoiDataset d = IoiDataset.of(gpt2, true, IoiDataset.standardPrompts().subList(0, 2));
        // <|endoftext|> When  John  and  Mary  went  to  the  shops  ,  John  gave  the  bag  to
        //       0        1     2     3     4     5    6    7     8    9    10    11   12   13  14
        assertEquals(List.of("<|endoftext|>", "When", " John", " and", " Mary", " went", " to", " the", " shops", ",", " John",
                " gave", " the", " bag", " to"), decodeEach(d.tokens().get("0").toLongArray()));
        assertArrayEquals(new int[] {4, 2}, d.positions(Word.IO));
        assertArrayEquals(new int[] {2, 4}, d.positions(Word.S1));
        assertArrayEquals(new int[] {3, 5}, d.positions(Word.S1_PLUS_1));
        assertArrayEquals(new int[] {10, 10}, d.positions(Word.S2));
        assertArrayEquals(new int[] {14, 14}, d.positions(Word.END));
        var table = d.toTable();
        assertEquals(List.of("prompt", "IO", "S", "order", "pos IO", "pos S1", "pos S1+1", "pos S2", "pos END"), table.columnNames());
        assertEquals("When John and Mary went to the shops, John gave the bag to", table.stringColumn("prompt").get(0));
        assertTrue(d.mimeBundle().data().get("text/html").contains("John gave the bag to"));
        IoiDataset noBos = IoiDataset.of(gpt2, false, IoiDataset.standardPrompts().subList(0, 1));
        assertArrayEquals(new int[] {3}, noBos.positions(Word.IO));
        assertArrayEquals(new int[] {13}, noBos.positions(Word.END));
    }

    @Test
    void promptsOfDifferentLengthsArePaddedOnTheRightAndReadAtTheirOwnEnd() {
        List<IoiPrompt> prompts = List.of(
                IoiPrompt.of(IoiTemplates.TEMPLATES.get(4), "Mary", "John", "store", "drink"),     // no place or object
                IoiPrompt.of(IoiTemplates.TEMPLATES.get(3), "Amy", "Paul", "garden", "ring"));
        IoiDataset d = IoiDataset.of(gpt2, true, prompts);
        // "Then, John and Mary had a long argument, and afterwards John said to": 1 + 15 tokens
        assertArrayEquals(new int[] {16, 21}, d.lengths());
        assertEquals(new Shape(2, 21), d.tokens().getShape());
        long[] row0 = d.tokens().get("0").toLongArray();
        for (int j = 16; j < 21; j++) {
            assertEquals(gpt2.eosTokenId().getAsInt(), row0[j], "padding");
        }
        assertArrayEquals(new int[] {15, 20}, d.positions(Word.END));
        assertTrue(!d.endsAligned());

        // Hand-made logits: each row's logits at its end hold 10·IO − 3·S; everything else is noise.
        int vocab = 50257;
        float[] values = new float[2 * 21 * vocab];
        java.util.Random random = new java.util.Random(1);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        int[] ends = d.positions(Word.END);
        int[] io = d.ioTokens();
        int[] s = d.sTokens();
        for (int b = 0; b < 2; b++) {
            values[(b * 21 + ends[b]) * vocab + io[b]] = 10 + b;
            values[(b * 21 + ends[b]) * vocab + s[b]] = -3;
        }
        NDArray logits = Tensors.ofFloats(values, new Shape(2, 21, vocab));
        assertArrayEquals(new float[] {13, 14}, d.logitDiffs(logits).toFloatArray(), 1e-6f);
        assertEquals(13.5, d.logitDiff().apply(logits).getFloat(), 1e-6);
        assertEquals(1.0, d.ioTopFraction(logits), "IO is the largest logit at each end");
        // Sweeps unembed each prompt's last token only and hand the metric [n, 1, vocab].
        long[] at = ((Metrics.AtPositions) d.logitDiff()).positions(2, 21);
        assertArrayEquals(new long[] {ends[0], ends[1]}, at);
        NDArray atEnds = NDArrays.stack(new NDList(logits.get("0, " + ends[0] + ", :"), logits.get("1, " + ends[1] + ", :")))
                .expandDims(1);
        assertArrayEquals(new float[] {13, 14}, d.logitDiffs(atEnds).toFloatArray(), 1e-6f);
        assertThrows(IllegalArgumentException.class, () -> d.logitDiffs(logits.get(":, :-1, :")));
    }

    @Test
    void rightPaddingLeavesEveryPromptsLogitDifferenceAsItWasAlone() {
        ModelConfig cfg = ModelConfig.builder().nLayers(2).dModel(32).nHeads(4).dVocab(50257).nCtx(32).build();
        HookedTransformer model = HookedTransformer.create(cfg, 3).withTokenizer(gpt2);
        List<IoiPrompt> prompts = IoiDistribution.paper().sample(6, 11);
        IoiDataset batch = IoiDataset.of(model, prompts);
        float[] together = batch.logitDiffs(model.forward(batch.tokens())).toFloatArray();
        for (int i = 0; i < prompts.size(); i++) {
            IoiPrompt p = prompts.get(i);
            NDArray last = model.forward(model.toTokens(p.text())).get("0, -1, :");
            float alone = last.getFloat(model.toSingleToken(" " + p.io())) - last.getFloat(model.toSingleToken(" " + p.s1()));
            assertEquals(alone, together[i], 1e-4, "prompt " + i);
        }
        NDArray logits = model.forward(batch.tokens());
        for (Order order : Order.values()) {
            double sum = 0;
            int count = 0;
            for (int i = 0; i < prompts.size(); i++) {
                if (prompts.get(i).order() == order) {
                    sum += together[i];
                    count++;
                }
            }
            assertEquals(sum / count, batch.meanLogitDiff(logits, order), 1e-5, order.name());
        }
        assertEquals(IoiCircuit.ioiEval(model, batch), IoiCircuit.ioiEval(batch, logits));
    }

    @Test
    void abcReplacesAllThreeNamesAndKeepsEverythingElse() {
        IoiDataset clean = IoiDataset.of(gpt2, true, IoiDistribution.paper().sample(40, 5));
        IoiDataset abc = clean.corrupted(Corruption.ABC, IoiTemplates.NAMES, 9);
        for (int i = 0; i < clean.size(); i++) {
            IoiPrompt c = clean.prompts().get(i);
            IoiPrompt x = abc.prompts().get(i);
            assertEquals(3, new HashSet<>(List.of(x.io(), x.s1(), x.s2())).size(), "three different names");
            for (String name : List.of(x.io(), x.s1(), x.s2())) {
                assertNotEquals(c.io(), name);
                assertNotEquals(c.s1(), name);
            }
            assertEquals(c.template(), x.template());
            assertEquals(c.place(), x.place());
            assertEquals(c.object(), x.object());
        }
        for (Word w : Word.values()) {
            assertArrayEquals(clean.positions(w), abc.positions(w), w.name());
        }
        assertEquals(clean.tokens().getShape(), abc.tokens().getShape());
        assertEquals(abc.texts(), clean.corrupted(Corruption.ABC, IoiTemplates.NAMES, 9).texts(), "the seed fixes the names");
        IllegalArgumentException few = assertThrows(IllegalArgumentException.class,
                () -> IoiDataset.of(gpt2, true, IoiDataset.standardPrompts().subList(0, 2)).corrupted(Corruption.ABC, 0));
        assertTrue(few.getMessage().contains("three names"), few.getMessage());
    }

    @Test
    void samplingIsBalancedReproducibleAndKeepsToItsLists() {
        IoiDistribution paper = IoiDistribution.paper();
        List<IoiPrompt> a = paper.sample(200, 42);
        assertEquals(a, paper.sample(200, 42));
        assertNotEquals(a, paper.sample(200, 43));
        assertEquals(100, a.stream().filter(p -> p.order() == Order.ABBA).count());
        for (IoiPrompt p : a) {
            assertNotEquals(p.io(), p.s1());
            assertEquals(p.s1(), p.s2());
            assertTrue(IoiTemplates.NAMES.contains(p.io()) && IoiTemplates.PLACES.contains(p.place())
                    && IoiTemplates.OBJECTS.contains(p.object()));
            String baba = p.order() == Order.BABA ? p.template() : IoiPrompt.swapFirstClause(p.template());
            assertTrue(IoiTemplates.TEMPLATES.contains(baba));
        }
        IoiDataset.of(gpt2, true, paper.singleTokenNames(gpt2).sample(300, 1)); // every prompt's positions check out
    }

    @Test
    void namesThatAreNotOneKnownTokenAreLeftOutOrRefused() {
        IoiDistribution d = IoiDistribution.paper().withNames(List.of("John", "Mary", "Zqxjvbrook"));
        assertEquals(List.of("John", "Mary"), d.singleTokenNames(gpt2).names());
        // A restricted vocabulary that never saw "Paul": one token, but the unknown one.
        SubsetTokenizer subset = SubsetTokenizer.mostFrequent(List.of("John and Mary went to the store, and Mary gave John a drink."), 40);
        assertEquals(List.of("John", "Mary"), IoiDistribution.paper().withNames(List.of("John", "Mary", "Paul"))
                .singleTokenNames(subset).names());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IoiDataset.of(gpt2, true,
                List.of(IoiPrompt.of(IoiTemplates.TEMPLATES.get(0), "Zqxjvbrook", "John", "store", "drink"))));
        assertTrue(e.getMessage().contains("Zqxjvbrook") && e.getMessage().contains("single token"), e.getMessage());
    }

    @Test
    void malformedTemplatesAreRefusedWithTheReason() {
        IllegalArgumentException slots = assertThrows(IllegalArgumentException.class,
                () -> IoiPrompt.of("Then, [B] and [A] went to the [PLACE].", "Mary", "John", "store", null));
        assertTrue(slots.getMessage().contains("two [B]"), slots.getMessage());
        IllegalArgumentException space = assertThrows(IllegalArgumentException.class,
                () -> IoiPrompt.of("[B] and [A] went out. [B] gave it to", "Mary", "John", null, null));
        assertTrue(space.getMessage().contains("follow a space"), space.getMessage());
        IllegalArgumentException place = assertThrows(IllegalArgumentException.class,
                () -> IoiPrompt.of(IoiTemplates.TEMPLATES.get(0), "Mary", "John", null, "drink"));
        assertTrue(place.getMessage().contains("needs a place"), place.getMessage());
    }

    private List<String> decodeEach(long[] ids) {
        return java.util.Arrays.stream(ids).mapToObj(id -> gpt2.decode(new int[] {(int) id})).toList();
    }
}
