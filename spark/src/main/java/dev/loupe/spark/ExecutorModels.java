package dev.loupe.spark;

import dev.loupe.load.BundledModels;
import dev.loupe.model.HookedTransformer;
import dev.loupe.sae.Sae;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The models and SAEs this JVM has loaded, by source: every task an executor runs reuses them, so each executor
 * reads a model once, however many partitions it works through. (In local mode the executor is the driver's JVM.)
 * Tasks share a model; its forward passes take turns while the scans of their results overlap.
 */
final class ExecutorModels {

    private static final Map<String, HookedTransformer> MODELS = new ConcurrentHashMap<>();
    private static final Map<String, Sae> SAES = new ConcurrentHashMap<>();

    private ExecutorModels() {}

    /**
     * The model {@code source} names, as {@link HookedTransformer#fromPretrained} reads it: a folder, a name in the
     * Hugging Face cache ({@code HF_HUB_CACHE}, {@code HF_HOME}) of the machine this runs on, or Loupe's own
     * {@code loupe/...}.
     */
    static HookedTransformer model(String source) {
        return MODELS.computeIfAbsent(source, HookedTransformer::fromPretrained);
    }

    /** The SAE in folder {@code source}, or Loupe's bundled {@code loupe/NAME}. */
    static Sae sae(String source) {
        return SAES.computeIfAbsent(source, s -> {
            try {
                return Sae.load(s.startsWith("loupe/") ? BundledModels.folder(s.substring("loupe/".length())) : Path.of(s));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }
}
