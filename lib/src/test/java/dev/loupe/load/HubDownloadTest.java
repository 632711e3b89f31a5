package dev.loupe.load;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HubDownloadTest {

    @TempDir
    Path tmp;

    private FakeHub fake;
    private FakeHub.Repo repo;
    private Path cache;
    private final byte[] weights = new byte[300_000];
    private final String config = "{\"n_layer\": 2}";

    @BeforeEach
    void start() throws IOException {
        new Random(7).nextBytes(weights);
        fake = new FakeHub();
        repo = fake.repo("org/tiny").file("config.json", config).lfs("model.safetensors", weights)
                .file("onnx/model.onnx", "onnx bytes");
        cache = tmp.resolve("hub");
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    private Hub hub() {
        return new Hub(cache, fake.endpoint(), null, false, Progress.none());
    }

    private Path tiny(Hub hub) throws IOException {
        return hub.snapshot("org/tiny", null, List.of("config.json", "model.safetensors"),
                List.of("generation_config.json", "onnx/model.onnx"));
    }

    @Test
    void theFirstDownloadLaysOutBlobsSnapshotsAndRefsAsHuggingfaceHubDoes() throws IOException {
        Path snapshot = tiny(hub());

        Path repoDir = cache.resolve("models--org--tiny");
        assertEquals(repoDir.resolve("snapshots").resolve(repo.commit), snapshot);
        assertEquals(repo.commit, Files.readString(repoDir.resolve("refs/main")));
        String configEtag = FakeHub.gitBlobId(config.getBytes(StandardCharsets.UTF_8));
        String weightsEtag = FakeHub.sha256(weights);
        assertEquals(List.of(configEtag, weightsEtag, repo.etag("onnx/model.onnx")).stream().sorted().toList(),
                list(repoDir.resolve("blobs")));
        assertEquals(Path.of("../../blobs/" + configEtag), Files.readSymbolicLink(snapshot.resolve("config.json")));
        assertEquals(Path.of("../../blobs/" + weightsEtag), Files.readSymbolicLink(snapshot.resolve("model.safetensors")));
        assertEquals(Path.of("../../../blobs/" + repo.etag("onnx/model.onnx")),
                Files.readSymbolicLink(snapshot.resolve("onnx/model.onnx")));
        assertEquals(config, Files.readString(snapshot.resolve("config.json")));
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        // An optional file the repo lacks is absent, and remembered as absent where Python looks.
        assertFalse(Files.exists(snapshot.resolve("generation_config.json")));
        assertTrue(Files.exists(repoDir.resolve(".no_exist").resolve(repo.commit).resolve("generation_config.json")));
        // The LFS file came from where the 302 pointed; nothing temporary is left anywhere.
        assertTrue(fake.requests.stream().anyMatch(r -> r.method().equals("GET") && r.path().equals("/cdn/" + weightsEtag)));
        assertEquals(List.of(), allFiles(cache).stream().filter(f -> f.endsWith(".incomplete") || f.endsWith(".tmp")).toList());
    }

    @Test
    void aSecondCallFindsTheCacheAndMakesNoGet() throws IOException {
        Path first = tiny(hub());
        int before = fake.requests.size();
        Path second = tiny(hub());
        assertEquals(first, second);
        List<FakeHub.Request> later = fake.requests.subList(before, fake.requests.size());
        assertEquals(0, later.stream().filter(r -> r.method().equals("GET")).count());
        // One HEAD resolves main; the other files are then known to be cached at that commit.
        assertEquals(1, later.size(), later.toString());
    }

    @Test
    void aCommitAlreadyCachedNeedsNoRequestAtAll() throws IOException {
        tiny(hub());
        int before = fake.requests.size();
        Path snapshot = hub().snapshot("org/tiny", repo.commit, List.of("config.json", "model.safetensors"),
                List.of("generation_config.json"));
        assertEquals(before, fake.requests.size());
        assertTrue(Files.exists(snapshot.resolve("model.safetensors")));
    }

    @Test
    void aDroppedConnectionIsResumedWithRangeAndTheBlobIsWhole() throws IOException {
        fake.dropAfter = weights.length / 2;
        fake.drops.set(1);
        Path snapshot = tiny(hub());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        List<FakeHub.Request> cdnGets = cdnGets();
        assertEquals(2, cdnGets.size());
        assertEquals(null, cdnGets.get(0).range());
        // It resumes from what arrived: up to half, less if the drop lost bytes in flight.
        int resumedAt = Integer.parseInt(cdnGets.get(1).range().replaceFirst("^bytes=(\\d+)-$", "$1"));
        assertTrue(resumedAt > 0 && resumedAt <= weights.length / 2, cdnGets.get(1).range());
    }

    @Test
    void anIncompleteFileLeftByAnEarlierRunIsResumed() throws IOException {
        Path part = cache.resolve("models--org--tiny/blobs/" + FakeHub.sha256(weights) + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.write(part, java.util.Arrays.copyOf(weights, 1000));
        Path snapshot = tiny(hub());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertEquals(List.of("bytes=1000-"), cdnGets().stream().map(FakeHub.Request::range).toList());
        assertFalse(Files.exists(part));
    }

    @Test
    void aServerThatAnswersARangeWithTheWholeFileRestartsIt() throws IOException {
        Path part = cache.resolve("models--org--tiny/blobs/" + FakeHub.sha256(weights) + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.write(part, new byte[1000]); // not even a prefix of the file: only a restart mends it
        fake.ignoreRange = true;
        Path snapshot = tiny(hub());
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
    }

    @Test
    void aStalledDownloadIsCutAndResumed() throws IOException {
        fake.dropAfter = 5000;
        fake.stallMillis = 5000;
        fake.stalls.set(1);
        Hub hub = new Hub(cache, fake.endpoint(), null, false, Progress.none(), Duration.ofSeconds(5),
                Duration.ofMillis(300));
        long started = System.nanoTime();
        Path snapshot = tiny(hub);
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertTrue(cdnGets().get(1).range().startsWith("bytes="), cdnGets().toString());
        assertTrue(System.nanoTime() - started < 4_000_000_000L, "the stall was cut, not waited out");
    }

    @Test
    void aChecksumMismatchNamesTheFileAndBothHashesAndLeavesNothing() throws IOException {
        byte[] served = weights.clone();
        served[12345] ^= 1;
        fake.corrupt(repo, "model.safetensors", served);
        IOException e = assertThrows(IOException.class, () -> tiny(hub()));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains(FakeHub.sha256(weights)), e.getMessage());
        assertTrue(e.getMessage().contains(FakeHub.sha256(served)), e.getMessage());
        Path repoDir = cache.resolve("models--org--tiny");
        assertFalse(Files.exists(repoDir.resolve("blobs").resolve(FakeHub.sha256(weights))));
        assertFalse(Files.exists(repoDir.resolve("blobs").resolve(FakeHub.sha256(weights) + ".incomplete")));
        assertFalse(Files.exists(repoDir.resolve("snapshots").resolve(repo.commit).resolve("model.safetensors"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aMissingFileRevisionOrRepoIsNamed() {
        IOException file = assertThrows(IOException.class,
                () -> hub().snapshot("org/tiny", null, List.of("config.json", "nope.bin"), List.of()));
        assertEquals("org/tiny has no file nope.bin at revision main.", file.getMessage());
        IOException revision = assertThrows(IOException.class,
                () -> hub().snapshot("org/tiny", "v9", List.of("config.json"), List.of()));
        assertEquals("org/tiny has no revision v9.", revision.getMessage());
        IOException repoMissing = assertThrows(IOException.class,
                () -> hub().snapshot("org/none", null, List.of("config.json"), List.of()));
        assertTrue(repoMissing.getMessage().startsWith("org/none is not on the hub"), repoMissing.getMessage());
    }

    @Test
    void aRevisionWithASlashIsEncodedAndItsRefNested() throws IOException {
        Path snapshot = hub().snapshot("org/tiny", "refs/pr/1", List.of("config.json"), List.of());
        assertTrue(fake.requests.get(0).path().equals("/org/tiny/resolve/refs%2Fpr%2F1/config.json"), fake.requests.toString());
        assertEquals(repo.commit, Files.readString(cache.resolve("models--org--tiny/refs/refs/pr/1")));
        assertEquals(config, Files.readString(snapshot.resolve("config.json")));
    }

    @Test
    void aRenamedRepoIsFollowedByHeadAndCachedUnderTheNameAskedFor() throws IOException {
        fake.rename("org/old-tiny", "org/tiny");
        Path snapshot = hub().snapshot("org/old-tiny", null, List.of("config.json", "model.safetensors"), List.of());
        assertEquals(cache.resolve("models--org--old-tiny/snapshots").resolve(repo.commit), snapshot);
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
    }

    @Test
    void aBlobSharedWithAnotherRevisionIsLinkedNotDownloaded() throws IOException {
        tiny(hub());
        long gets = fake.count("GET");
        Path v1 = hub().snapshot("org/tiny", "v1", List.of("config.json", "model.safetensors"), List.of());
        assertEquals(gets, fake.count("GET"));
        assertEquals(repo.commit, Files.readString(cache.resolve("models--org--tiny/refs/v1")));
        assertArrayEquals(weights, Files.readAllBytes(v1.resolve("model.safetensors")));
    }

    @Test
    void twoThreadsAskingForOneFileDownloadItOnce() throws Exception {
        Hub hub = hub();
        var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            var a = pool.submit(() -> tiny(hub));
            var b = pool.submit(() -> tiny(hub));
            Path snapshot = a.get(20, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(snapshot, b.get(20, java.util.concurrent.TimeUnit.SECONDS));
            assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
            assertEquals(1, cdnGets().size());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void progressHearsEachDownloadFromStartToDone() throws IOException {
        List<String> heard = new ArrayList<>();
        long[] last = {-1};
        Progress recording = new Progress() {
            @Override
            public void start(String file, long totalBytes) {
                heard.add("start " + file + " " + totalBytes);
            }

            @Override
            public void advance(long bytesSoFar) {
                assertTrue(bytesSoFar >= last[0]);
                last[0] = bytesSoFar;
            }

            @Override
            public void done() {
                heard.add("done " + last[0]);
                last[0] = -1;
            }
        };
        hub().withProgress(recording).snapshot("org/tiny", null, List.of("model.safetensors", "config.json"), List.of());
        // The LFS size comes from X-Linked-Size, the git file's from Content-Length.
        assertEquals(List.of("start org/tiny/model.safetensors " + weights.length, "done " + weights.length,
                "start org/tiny/config.json " + config.length(), "done " + config.length()), heard);
    }

    @Test
    void shardFilesAreTheIndexsDistinctFilesSorted() throws IOException {
        Path index = tmp.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"metadata\": {\"total_size\": 10}, \"weight_map\": {"
                + "\"a\": \"model-00002-of-00002.safetensors\", \"b\": \"model-00001-of-00002.safetensors\","
                + " \"c\": \"model-00002-of-00002.safetensors\"}}");
        assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"), Hub.shardFiles(index));
        Files.writeString(index, "{\"metadata\": {}}");
        IOException e = assertThrows(IOException.class, () -> Hub.shardFiles(index));
        assertTrue(e.getMessage().contains(index.toString()) && e.getMessage().contains("weight_map"), e.getMessage());
    }

    @Test
    void namesThatCouldLeaveTheCacheAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> hub().snapshot("../etc", null, List.of("config.json"), List.of()));
        assertThrows(IllegalArgumentException.class, () -> hub().snapshot("a/b/c", null, List.of("config.json"), List.of()));
        assertThrows(IllegalArgumentException.class, () -> hub().snapshot("org/tiny", "../x", List.of("config.json"), List.of()));
        assertThrows(IllegalArgumentException.class, () -> hub().snapshot("org/tiny", null, List.of("../../x"), List.of()));
        assertThrows(IllegalArgumentException.class, () -> hub().snapshot("org/tiny", null, List.of("/etc/passwd"), List.of()));
        assertEquals(0, fake.requests.size());
    }

    private List<FakeHub.Request> cdnGets() {
        return fake.requests.stream().filter(r -> r.method().equals("GET") && r.path().startsWith("/cdn/")).toList();
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static List<String> allFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.map(Path::toString).toList();
        }
    }
}
