package dev.loupe.load;

import dev.loupe.FamilyCase;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.Pretrained;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Registry names as TransformerLens users type them, and revisions (Pythia's training checkpoints) read from a
 * Hugging Face cache laid out as Python's huggingface_hub lays it out: refs/REVISION names the snapshot's commit.
 */
class RevisionTest {

    @TempDir
    Path cache;

    private void snapshot(String repoId, String revision, String commit, FamilyCase from) throws IOException {
        Path repo = cache.resolve("models--" + repoId.replace("/", "--"));
        Path snapshot = Files.createDirectories(repo.resolve("snapshots").resolve(commit));
        try (Stream<Path> files = Files.list(from.model())) {
            for (Path f : files.toList()) {
                Files.copy(f, snapshot.resolve(f.getFileName()));
            }
        }
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs").resolve(revision), commit);
    }

    @Test
    void aRevisionPicksItsSnapshotAndMainStaysTheDefault() throws IOException {
        snapshot("EleutherAI/pythia-70m", "main", "a".repeat(40), FamilyCase.of("pythia_sequential"));
        snapshot("EleutherAI/pythia-70m", "step3000", "b".repeat(40), FamilyCase.of("pythia"));
        Hub offline = new Hub(cache, null, null, true, Progress.none());
        HookedTransformer main = Pretrained.fromPretrained("pythia-70m", LoadOptions.defaults(), offline);
        HookedTransformer step = Pretrained.fromPretrained("Pythia-70M", LoadOptions.defaults().revision("step3000"), offline);
        assertFalse(main.config().parallelAttnMlp()); // the sequential case sits at main
        assertTrue(step.config().parallelAttnMlp());
        assertEquals("b".repeat(40), step.checkpoint().orElseThrow().commit());
    }

    @Test
    void onlyGpt2sOwnRepositoriesFallBackToTheBundledGpt2Tokenizer() throws IOException {
        dev.loupe.model.ModelConfig big = dev.loupe.model.ModelConfig.builder().nLayers(1).dModel(8).nHeads(2).dVocab(50304)
                .nCtx(16).build(); // a vocabulary GPT-2's tokenizer fits in, as Pythia's does
        for (String repo : new String[] {"EleutherAI/pythia-70m", "openai-community/gpt2"}) {
            Path snapshot = Files.createDirectories(cache.resolve("models--" + repo.replace("/", "--")).resolve("snapshots")
                    .resolve("c".repeat(40)));
            HookedTransformer.create(big, 1).save(snapshot); // no tokenizer files in the folder
            Files.createDirectories(snapshot.getParent().resolveSibling("refs"));
            Files.writeString(snapshot.getParent().resolveSibling("refs").resolve("main"), "c".repeat(40));
        }
        Hub offline = new Hub(cache, null, null, true, Progress.none());
        assertTrue(Pretrained.fromPretrained("pythia-70m", LoadOptions.defaults(), offline).tokenizer().isEmpty());
        assertTrue(Pretrained.fromPretrained("gpt2", LoadOptions.defaults(), offline).tokenizer().isPresent());
    }

    @Test
    void theNamesTransformerLensUsersTypeAreKnown() {
        for (String name : new String[] {"pythia-70m", "pythia-160m-deduped", "gpt-neo-125M", "tiny-stories-33M", "Llama-3.2-1B",
            "Qwen2.5-0.5B", "Qwen3-0.6B", "gemma-2-2b", "gemma-3-270m", "gpt-j-6B", "Mistral-7B-v0.1"}) {
            assertTrue(ModelRegistry.find(name).isPresent(), name);
        }
        assertEquals("roneneldan/TinyStories-33M", ModelRegistry.find("tiny-stories-33M").orElseThrow().repoId());
        assertEquals("meta-llama/Llama-3.2-1B", ModelRegistry.find("llama-3.2-1b").orElseThrow().repoId());
    }
}
