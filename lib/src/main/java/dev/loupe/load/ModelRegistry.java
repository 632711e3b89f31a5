package dev.loupe.load;

import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Short names for models, as TransformerLens's official model names: {@code fromPretrained("gpt2")}.
 * Each maps to a Hugging Face repository; older repository names are also looked for in the local cache,
 * so weights downloaded years ago by Python tools are found.
 */
public final class ModelRegistry {

    /**
     * One known model: its short names, the repository it downloads from, and older names of that repository; or,
     * for a model Loupe trained itself, the name of its folder bundled with the library ({@link BundledModels}).
     */
    public record Entry(List<String> aliases, String repoId, List<String> formerRepoIds, String description, String bundled) {

        Entry(List<String> aliases, String repoId, List<String> formerRepoIds, String description) {
            this(aliases, repoId, formerRepoIds, description, null);
        }

        static Entry bundled(String name, String description) {
            return new Entry(List.of("loupe/" + name, name), "loupe/" + name, List.of(), description, name);
        }

        public boolean isBundled() {
            return bundled != null;
        }
    }

    private static final List<Entry> MODELS = Stream.of(List.of(
            new Entry(List.of("gpt2", "gpt2-small"), "openai-community/gpt2", List.of("gpt2"),
                    "GPT-2 small: 124M parameters, 12 layers, d_model 768"),
            new Entry(List.of("gpt2-medium"), "openai-community/gpt2-medium", List.of("gpt2-medium"),
                    "GPT-2 medium: 355M parameters, 24 layers, d_model 1024"),
            new Entry(List.of("gpt2-large"), "openai-community/gpt2-large", List.of("gpt2-large"),
                    "GPT-2 large: 774M parameters, 36 layers, d_model 1280"),
            new Entry(List.of("gpt2-xl"), "openai-community/gpt2-xl", List.of("gpt2-xl"),
                    "GPT-2 XL: 1.5B parameters, 48 layers, d_model 1600"),
            new Entry(List.of("distilgpt2", "distil-gpt2"), "distilbert/distilgpt2", List.of("distilgpt2"),
                    "DistilGPT-2: 82M parameters, 6 layers, d_model 768")),
            hub("EleutherAI", "Pythia (GPT-NeoX), trained on the Pile; training checkpoints as revisions step0..step143000: ",
                    "pythia-14m", "pythia-31m", "pythia-70m", "pythia-160m", "pythia-410m", "pythia-1b", "pythia-1.4b",
                    "pythia-2.8b", "pythia-6.9b", "pythia-12b", "pythia-70m-deduped", "pythia-160m-deduped",
                    "pythia-410m-deduped", "pythia-1b-deduped", "pythia-1.4b-deduped", "pythia-2.8b-deduped",
                    "pythia-6.9b-deduped", "pythia-12b-deduped"),
            hub("EleutherAI", "GPT-Neo: ", "gpt-neo-125M", "gpt-neo-1.3B", "gpt-neo-2.7B"),
            hub("EleutherAI", "GPT-J: ", "gpt-j-6B"),
            hub("roneneldan", "TinyStories (GPT-Neo): ", "TinyStories-1M", "TinyStories-3M", "TinyStories-8M",
                    "TinyStories-28M", "TinyStories-33M", "TinyStories-1Layer-21M", "TinyStories-2Layers-33M",
                    "TinyStories-Instruct-33M"),
            hub("meta-llama", "Llama: ", "Llama-3.2-1B", "Llama-3.2-1B-Instruct", "Llama-3.2-3B", "Llama-3.2-3B-Instruct",
                    "Llama-3.1-8B", "Llama-3.1-8B-Instruct", "Meta-Llama-3-8B", "Meta-Llama-3-8B-Instruct", "Llama-2-7b-hf",
                    "Llama-2-7b-chat-hf"),
            hub("mistralai", "Mistral: ", "Mistral-7B-v0.1", "Mistral-7B-Instruct-v0.1"),
            hub("Qwen", "Qwen 2.5: ", "Qwen2.5-0.5B", "Qwen2.5-0.5B-Instruct", "Qwen2.5-1.5B", "Qwen2.5-1.5B-Instruct",
                    "Qwen2.5-3B", "Qwen2.5-7B"),
            hub("Qwen", "Qwen 3: ", "Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B", "Qwen3-0.6B-Base", "Qwen3-1.7B-Base"),
            hub("google", "Gemma 2: ", "gemma-2-2b", "gemma-2-2b-it", "gemma-2-9b", "gemma-2-9b-it"),
            hub("google", "Gemma 3 (text): ", "gemma-3-270m", "gemma-3-270m-it", "gemma-3-1b-pt", "gemma-3-1b-it"),
            List.of(Entry.bundled("attn-only-2l", "Loupe's 2-layer attention-only model (Brown corpus): induction heads"),
            Entry.bundled("grokking-p113", "Loupe's grokked modular-addition model (a + b mod 113; token 113 is =)"),
            Entry.bundled("ioi-organism", "Loupe's 4-layer GPT-2-architecture model trained on Brown text and IOI sentences:"
                    + " a model organism for indirect object identification, not GPT-2")))
            .flatMap(List::stream).toList();

    /** Hugging Face repositories org/name, each known by its name (as TransformerLens users type it, in any case). */
    private static List<Entry> hub(String org, String description, String... names) {
        return Stream.of(names)
                .map(n -> new Entry(Stream.of(n, tlName(n)).distinct().toList(), org + "/" + n, List.of(), description + n))
                .toList();
    }

    /** TransformerLens's spelling of the TinyStories names (tiny-stories-33M); the name itself elsewhere. */
    private static String tlName(String repoName) {
        return repoName.startsWith("TinyStories-") ? "tiny-stories-" + repoName.substring("TinyStories-".length()) : repoName;
    }

    private ModelRegistry() {}

    public static List<Entry> entries() {
        return MODELS;
    }

    /** The entry for a short name or repository id, if Loupe knows it. */
    public static Optional<Entry> find(String name) {
        return MODELS.stream()
                .filter(e -> e.aliases().stream().anyMatch(name::equalsIgnoreCase) || e.repoId().equals(name)
                        || e.formerRepoIds().contains(name))
                .findFirst();
    }

    /** The known models as a text table. */
    public static String table() {
        StringBuilder s = new StringBuilder(String.format("%-26s %-30s %s%n", "name", "Hugging Face repository", "model"));
        for (Entry e : MODELS) {
            s.append(String.format("%-26s %-30s %s%n", String.join(", ", e.aliases()),
                    e.isBundled() ? "(in Loupe, no download)" : e.repoId(), e.description()));
        }
        s.append("Any other repository id, or a local folder in Hugging Face's layout, loads too if its architecture is supported.\n");
        return s.toString();
    }
}
