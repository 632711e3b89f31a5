package dev.loupe.load;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The models Loupe trains itself ({@code loupe/attn-only-2l}, ...) and their SAEs (SAELens folders:
 * {@code Sae.load(BundledModels.folder("sae-ioi-organism"))}), committed under {@code tutorials/models/NAME}
 * and packaged in the library under {@code dev/loupe/models/NAME}. Run from a build folder they are read in place;
 * from a jar they are copied once into {@code ~/.cache/loupe/models/NAME-HASH} (or under {@code $LOUPE_CACHE}), whole
 * or not at all, the hash naming the weights so that a newer jar never reads an older copy.
 */
public final class BundledModels {

    /**
     * What a bundled folder may hold; a model needs config.json and model.safetensors, an SAE cfg.json and
     * sae_weights.safetensors. checkpoints.txt names subfolders (one a line) that each hold a checkpoint's config.json
     * and model.safetensors.
     */
    static final List<String> FILES = List.of("config.json", "model.safetensors", "cfg.json", "sae_weights.safetensors",
            "sparsity.safetensors", "subset_vocab.json", "tokenizer.json", "metrics.csv", "training.json",
            "checkpoints.txt");
    private static final List<String> CHECKPOINT_FILES = List.of("config.json", "model.safetensors");

    private BundledModels() {}

    /** The folder of bundled model {@code name} (the part after {@code loupe/}). */
    public static Path folder(String name) throws IOException {
        boolean sae = resource(name, "cfg.json") != null;
        String weightsFile = sae ? "sae_weights.safetensors" : "model.safetensors";
        URL config = resource(name, sae ? "cfg.json" : "config.json");
        URL weights = resource(name, weightsFile);
        if (config == null || weights == null) {
            throw new ModelLoadException("Loupe's model '" + name + "' is not in this build: expected "
                    + "dev/loupe/models/" + name + "/config.json and model.safetensors (or an SAE's cfg.json and"
                    + " sae_weights.safetensors) on the class path (they come from tutorials/models/" + name
                    + "; train it with ./loupe train " + name + ").", null);
        }
        if ("file".equals(config.getProtocol())) {
            try {
                return Path.of(config.toURI()).getParent();
            } catch (URISyntaxException e) {
                throw new IOException(e);
            }
        }
        Path target = cacheRoot().resolve(name + "-" + sha256(weights).substring(0, 12));
        if (Files.isRegularFile(target.resolve(weightsFile))) {
            return target;
        }
        Files.createDirectories(target.getParent());
        Path temp = Files.createTempDirectory(target.getParent(), target.getFileName() + ".partial");
        copy(name, FILES, temp);
        Path checkpoints = temp.resolve("checkpoints.txt");
        if (Files.isRegularFile(checkpoints)) {
            for (String folder : Files.readAllLines(checkpoints)) {
                if (!folder.isBlank()) {
                    Files.createDirectories(temp.resolve(folder));
                    copy(name, CHECKPOINT_FILES.stream().map(f -> folder + "/" + f).toList(), temp);
                }
            }
        }
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException anotherProcessWasFirst) {
            if (!Files.isRegularFile(target.resolve(weightsFile))) {
                throw anotherProcessWasFirst;
            }
        }
        return target;
    }

    private static void copy(String name, List<String> files, Path into) throws IOException {
        for (String file : files) {
            URL url = resource(name, file);
            if (url != null) {
                try (InputStream in = url.openStream()) {
                    Files.copy(in, into.resolve(file));
                }
            }
        }
    }

    private static URL resource(String name, String file) {
        return BundledModels.class.getResource("/dev/loupe/models/" + name + "/" + file);
    }

    private static Path cacheRoot() {
        String env = System.getenv("LOUPE_CACHE");
        if (env != null && !env.isBlank()) {
            return Path.of(env, "models");
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("loupe").resolve("models");
    }

    private static String sha256(URL url) throws IOException {
        try (InputStream in = url.openStream()) {
            return Checkpoint.sha256(in);
        }
    }
}
