package dev.loupe;

import ai.djl.ndarray.NDArray;

import dev.loupe.load.LoadOptions;
import dev.loupe.load.Safetensors;
import dev.loupe.model.HookedTransformer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A tiny random checkpoint of one Hugging Face family in its exact layout, with every activation computed by the
 * independent numpy implementation in lib/src/test/reference/families (see its README).
 */
public record FamilyCase(String name, Path dir) {

    /** Every case's name, sorted. */
    public static List<String> names() {
        try (Stream<Path> dirs = Files.list(root())) {
            return dirs.filter(Files::isDirectory).map(d -> d.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static FamilyCase of(String name) {
        return new FamilyCase(name, root().resolve(name));
    }

    private static Path root() {
        try {
            return Path.of(FamilyCase.class.getResource("/families").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The Hugging Face folder (config.json, weights). */
    public Path model() {
        return dir.resolve("model");
    }

    /** tokens, logits, loss_per_token and every hook point's activation (float64). */
    public Map<String, NDArray> expected() {
        try {
            return Safetensors.read(dir.resolve("expected.safetensors"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public NDArray tokens() {
        return expected().get("tokens");
    }

    /** Loaded from its folder as a user would. */
    public HookedTransformer load(LoadOptions options) {
        return HookedTransformer.fromPretrained(model().toString(), options);
    }
}
