package dev.loupe.tasks.ioi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import dev.loupe.model.ActivationCache;
import dev.loupe.model.HookedTransformer;
import dev.loupe.patching.PathPatching.Head;
import dev.loupe.tokenize.SubsetTokenizer;
import dev.loupe.tokenize.Tokenizer;
import dev.loupe.train.TokenWindows;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The recipe's splits and batches, and the committed model on prompts it was not trained on. */
class IoiOrganismTest {

    @Test
    void heldOutNamesAndTemplatesNeverReachTraining() {
        List<String> names = IoiOrganism.trainingNames(List.of("Kennedy", "Paul", "Washington"));
        assertTrue(names.containsAll(List.of("John", "Mary", "Tom", "Dan", "Sid", "Martin", "Kennedy", "Washington")));
        assertTrue(Collections.disjoint(names, IoiOrganism.HELD_OUT_NAMES), "Paul is held out even as a proper noun");
        IoiDistribution training = IoiOrganism.trainingDistribution(names);
        assertEquals(12, training.templates().size());
        for (int t : IoiOrganism.HELD_OUT_TEMPLATES) {
            assertFalse(training.templates().contains(IoiTemplates.TEMPLATES.get(t)));
            assertTrue(IoiOrganism.heldOutTemplates().templates().contains(IoiTemplates.TEMPLATES.get(t)));
        }
        assertEquals(IoiOrganism.HELD_OUT_NAMES, IoiOrganism.heldOutDistribution().names());
        assertEquals(91, IoiOrganism.heldOutTemplates().names().size());
    }

    @Test
    void halfTheRowsArePackedIoiSentencesEachAfterEndOfText() {
        List<String> names = IoiOrganism.trainingNames(List.of());
        SubsetTokenizer tokenizer = IoiOrganism.tokenizer(List.of("Some ordinary text, said twice. Some ordinary text, said twice."
                .repeat(40)), names);
        TokenWindows text = new TokenWindows(tokenizer, List.of("Plain words and more plain words. ".repeat(200)),
                IoiOrganism.BATCH, IoiOrganism.CTX, 0.1, 3);
        NDArray batch = IoiOrganism.batches(text, tokenizer, IoiOrganism.trainingDistribution(names), 3).apply(5);
        long[] ids = batch.toLongArray();
        int ioiRows = 0;
        for (int row = 0; row < IoiOrganism.BATCH; row++) {
            int[] r = new int[IoiOrganism.CTX];
            for (int i = 0; i < r.length; i++) {
                r[i] = (int) ids[row * IoiOrganism.CTX + i];
            }
            String decoded = tokenizer.decode(r);
            if (decoded.contains(" gave") || decoded.contains(" said to")) {
                ioiRows++;
                assertEquals(0, r[0], "an IOI row starts with end-of-text, as a prompt starts with BOS");
                String first = decoded.substring("<|endoftext|>".length()).split("<\\|endoftext\\|>")[0];
                assertTrue(first.endsWith("."), first);
                assertFalse(first.contains("<unk>"), first);
            }
        }
        assertTrue(ioiRows > 8 && ioiRows < 24, ioiRows + " IOI rows of 32");
    }

    @Test
    void everyIoiWordIsInTheOrganismsVocabulary() {
        HookedTransformer model = HookedTransformer.fromPretrained("loupe/ioi-organism");
        Tokenizer tokenizer = model.tokenizer().orElseThrow();
        List<String> texts = new ArrayList<>();
        IoiDistribution.paper().sample(300, 4).forEach(p -> texts.add(p.text() + p.answer()));
        IoiDataset.standardPrompts().forEach(p -> texts.add(p.text() + p.answer()));
        for (String text : texts) {
            assertFalse(tokenizer.decode(tokenizer.encode(text)).contains("<unk>"), text);
        }
        assertEquals(99, IoiDistribution.paper().singleTokenNames(tokenizer).names().size());
    }

    @Test
    void theCommittedModelDoesIoiOnHeldOutTemplatesAndNames() {
        HookedTransformer model = HookedTransformer.fromPretrained("loupe/ioi-organism");
        IoiCircuit.Eval eval = IoiCircuit.ioiEval(model, IoiDataset.of(model, IoiOrganism.heldOutTemplates().sample(100, 11)));
        assertTrue(eval.logitDiff() > 2, "held-out logit difference " + eval.logitDiff());
        assertTrue(eval.accuracy() > 0.9, "held-out accuracy " + eval.accuracy());
        IoiCircuit.Eval names = IoiCircuit.ioiEval(model, IoiDataset.of(model, IoiOrganism.heldOutDistribution().sample(100, 11)));
        System.out.printf("ioi-organism: held-out templates %s; held-out templates and names %s%n", eval, names);
        assertTrue(names.logitDiff() > 0.75, "names never seen in a training sentence are copied too: " + names);
    }

    /** The paper's criteria for name movers: from the end they attend to the IO, and their OV circuit copies names. */
    @Test
    void theCommittedModelsNameMoversAttendToTheIoAndCopyIt() {
        HookedTransformer model = HookedTransformer.fromPretrained("loupe/ioi-organism");
        IoiDistribution names = IoiDistribution.paper().singleTokenNames(model.tokenizer().orElseThrow());
        IoiDataset clean = IoiDataset.of(model, names.sample(60, 1));
        IoiDataset abc = clean.corrupted(IoiDataset.Corruption.ABC, names.names(), 2);
        try (ActivationCache cleanCache = model.runWithCache(clean.tokens()); ActivationCache abcCache = model.runWithCache(abc.tokens())) {
            List<Head> nameMovers = IoiCircuit.nameMovers(IoiCircuit.directEffects(model, clean, cleanCache, abcCache), cleanCache, clean, 0.25);
            NDArray attention = IoiCircuit.attention(cleanCache, clean, IoiPrompt.Word.END, IoiPrompt.Word.IO).values()
                    .toType(DataType.FLOAT64, false);
            NDArray copy = IoiCircuit.copyScores(cleanCache, clean, false, 5).values().toType(DataType.FLOAT64, false);
            double averageHead = copy.mean().getDouble();
            assertFalse(nameMovers.isEmpty());
            for (Head h : nameMovers) {
                double attends = attention.getDouble(h.layer(), h.head());
                double copies = copy.getDouble(h.layer(), h.head());
                System.out.printf("ioi-organism: name mover %s attends %.2f to the IO, copy score %.0f%% (average head %.0f%%)%n",
                        h, attends, 100 * copies, 100 * averageHead);
                assertTrue(attends > 0.4, h + " attends " + attends + " to the IO");
                assertTrue(copies > 0.4 && copies > 4 * averageHead, h + " copy score " + copies + ", average head " + averageHead);
            }
        }
    }

    /** The class rules on the committed model: its dominant head is labelled by what it does, and labels hold on two samples. */
    @Test
    void theCommittedModelsDominantHeadIsLabelledOnceAndStably() {
        HookedTransformer model = HookedTransformer.fromPretrained("loupe/ioi-organism");
        IoiDataset a = IoiDataset.of(model, IoiOrganism.heldOutTemplates().sample(100, 1));
        IoiDataset b = IoiDataset.of(model, IoiOrganism.heldOutTemplates().sample(100, 3));
        IoiCircuit.Search first = IoiCircuit.search(model, a, a.corrupted(IoiDataset.Corruption.ABC, IoiTemplates.NAMES, 2), IoiCircuit.Rules.DEFAULT);
        IoiCircuit.Search second = IoiCircuit.search(model, b, b.corrupted(IoiDataset.Corruption.ABC, IoiTemplates.NAMES, 4), IoiCircuit.Rules.DEFAULT);
        IoiCircuit.Stability stable = IoiCircuit.stable(first, second);
        System.out.println("ioi-organism: " + first + "\n  " + second + "\n  " + stable);
        System.out.println(first.headTable());
        System.out.println(first.ranked(6, IoiCircuit.Rules.DEFAULT));
        Head dominant = first.dominantHead();
        assertEquals(dominant, second.dominantHead());
        String label = first.labels().get(dominant).label();
        System.out.println("ioi-organism: dominant head " + dominant + " " + label);
        assertTrue(label.contains("suppression"), dominant + " is " + label);
        assertTrue(stable.classes().get(label).contains(dominant));
        assertTrue(first.classes().get("induction").stream().allMatch(h -> h.layer() > 0));
        assertFalse(first.classes().getOrDefault("negative name mover", List.of()).contains(new Head(2, 6)),
                "2.6 attends 0.0002 to the IO");
    }
}
