package dev.loupe.load;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The checkpoint a pretrained model was read from ({@code model.checkpoint()}), so that a notebook can say what it ran
 * on: the hub repository and the snapshot's commit, or the folder, and each weights file's sha256, which tells these
 * weights from any others (say GPT-2's from a stand-in with its names and shapes).
 *
 * @param repository the hub repository id (openai-community/gpt2) when the folder is a snapshot of a Hugging Face
 *     cache, else the folder's path
 * @param commit the snapshot's commit (its folder's name), or null when the folder is not a hub snapshot
 * @param sha256 each weights file's sha256, by file name, in the order they were read
 */
public record Checkpoint(String repository, String commit, Map<String, String> sha256) {

    public Checkpoint {
        sha256 = Collections.unmodifiableMap(new LinkedHashMap<>(sha256));
    }

    /**
     * The checkpoint of a folder and its weights files. A file that links into a hub cache's blobs under a sha256 is
     * known by that name (the hub's checksum, which downloads are checked against); any other is hashed.
     */
    public static Checkpoint of(Path folder, List<Path> weights) throws IOException {
        Path parent = folder.toAbsolutePath().normalize().getParent();
        Path repoDir = parent == null ? null : parent.getParent();
        boolean snapshot = repoDir != null && parent.getFileName().toString().equals("snapshots")
                && repoDir.getFileName().toString().startsWith("models--");
        Map<String, String> sha256 = new LinkedHashMap<>();
        for (Path file : weights) {
            sha256.put(folder.relativize(file).toString(), sha256(file));
        }
        return snapshot
                ? new Checkpoint(repoDir.getFileName().toString().substring("models--".length()).replace("--", "/"),
                        folder.getFileName().toString(), sha256)
                : new Checkpoint(folder.toAbsolutePath().normalize().toString(), null, sha256);
    }

    private static String sha256(Path file) throws IOException {
        if (Files.isSymbolicLink(file)) {
            Path blob = Files.readSymbolicLink(file);
            Path blobs = blob.getParent();
            if (blobs != null && blobs.getFileName().toString().equals("blobs")
                    && HubCache.SHA256.matcher(blob.getFileName().toString()).matches()) {
                return blob.getFileName().toString();
            }
        }
        try (InputStream in = Files.newInputStream(file)) {
            return sha256(in);
        }
    }

    /** The sha256 of everything {@code in} holds, read a buffer at a time. */
    static String sha256(InputStream in) throws IOException {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One line: {@code openai-community/gpt2, commit 607a30d..., model.safetensors sha256 248dfc39...}. */
    @Override
    public String toString() {
        return repository + (commit == null ? "" : ", commit " + commit) + ", " + sha256.entrySet().stream()
                .map(e -> e.getKey() + " sha256 " + e.getValue()).collect(Collectors.joining(", "));
    }
}
