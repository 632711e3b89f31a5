package dev.loupe.tokenize;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Gpt2TokenizerTest {

    private final Gpt2Tokenizer gpt2 = Gpt2Tokenizer.bundled();

    @Test
    void knownIds() {
        assertArrayEquals(new int[] {15496, 995}, gpt2.encode("Hello world"));
        assertArrayEquals(new int[] {50256}, gpt2.encode("<|endoftext|>"));
        assertArrayEquals(new int[] {5335}, gpt2.encode(" Mary"));
        assertArrayEquals(new int[] {1757}, gpt2.encode(" John"));
        assertEquals(" Mary", gpt2.tokenString(5335));
        assertEquals("ĠMary", gpt2.vocabToken(5335));
        assertEquals("<|endoftext|>", gpt2.tokenString(50256));
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50256, gpt2.bosTokenId().getAsInt());
        assertEquals(50256, gpt2.eosTokenId().getAsInt());
        assertEquals(50256, gpt2.padTokenId().getAsInt());
        assertEquals(0, gpt2.encode("").length);
        assertEquals("", gpt2.decode(new int[0]));
    }

    @Test
    void matchesTheJavaScriptReference() throws IOException {
        List<Gpt2TestFiles.Case> cases = Gpt2TestFiles.jsReference();
        assertTrue(cases.size() > 50, "reference cases: " + cases.size());
        for (Gpt2TestFiles.Case c : cases) {
            String label = "text " + quote(c.text());
            assertArrayEquals(c.ids(), gpt2.encode(c.text()), label);
            assertEquals(c.text(), gpt2.decode(c.ids()), label);
            for (int i = 0; i < c.ids().length; i++) {
                assertEquals(c.tokens().get(i), gpt2.tokenString(c.ids()[i]), label + ", token " + i);
            }
        }
    }

    @Test
    void encodesFromManyThreadsAtOnce(@TempDir Path dir) throws IOException {
        List<Gpt2TestFiles.Case> cases = Gpt2TestFiles.jsReference();
        Gpt2TestFiles.writeVocabAndMerges(dir);
        // A tokenizer of its own, whose word cache starts empty, for the threads to fill at once.
        Gpt2Tokenizer fresh = Gpt2Tokenizer.fromFiles(dir.resolve("vocab.json"), dir.resolve("merges.txt"));
        IntStream.range(0, 40 * cases.size()).parallel().forEach(i -> {
            Gpt2TestFiles.Case c = cases.get(i % cases.size());
            assertArrayEquals(c.ids(), fresh.encode(c.text()), "text " + quote(c.text()));
        });
    }

    @Test
    void charactersSplitAcrossTokensDecodeWholeTogether() {
        int[] ids = gpt2.encode("👋🏽");
        assertTrue(ids.length > 2, Arrays.toString(ids));
        assertEquals("\uFFFD", gpt2.tokenString(ids[0])); // a byte or two of the emoji alone is no character
        assertEquals("👋🏽", gpt2.decode(ids));
    }

    @Test
    void anyTextRoundTrips() {
        Random random = new Random(7);
        for (int n = 0; n < 2000; n++) {
            StringBuilder text = new StringBuilder();
            int length = random.nextInt(30);
            for (int i = 0; i < length; i++) {
                int cp;
                do {
                    // mostly ASCII, some of the BMP, some beyond it (emoji, historic scripts)
                    cp = switch (random.nextInt(4)) {
                        case 0, 1 -> random.nextInt(0x80);
                        case 2 -> random.nextInt(0x10000);
                        default -> 0x10000 + random.nextInt(0x100000);
                    };
                } while (Character.getType(cp) == Character.SURROGATE);
                text.appendCodePoint(cp);
            }
            String s = text.toString();
            assertEquals(s, gpt2.decode(gpt2.encode(s)), "text " + quote(s));
        }
    }

    @Test
    void endOfTextIsOneTokenAnywhere() {
        assertArrayEquals(new int[] {15496, 50256, 6894}, gpt2.encode("Hello<|endoftext|>world"));
        assertArrayEquals(new int[] {50256, 50256}, gpt2.encode("<|endoftext|><|endoftext|>"));
        assertEquals(6, gpt2.encode("<|endoftext|").length); // not the special token: written out in pieces
    }

    @Test
    void byteTableMapsEachByteToItsOwnPrintableCharacter() {
        assertEquals('Ġ', ByteLevel.charOf(' '));
        assertEquals('Ċ', ByteLevel.charOf('\n'));
        assertEquals('A', ByteLevel.charOf('A'));
        Set<Character> seen = new HashSet<>();
        for (int b = 0; b < 256; b++) {
            char c = ByteLevel.charOf(b);
            assertTrue(seen.add(c), "byte " + b);
            assertTrue(!Character.isWhitespace(c) && !Character.isISOControl(c), "byte " + b + " -> U+" + (int) c);
            assertArrayEquals(new byte[] {(byte) b}, ByteLevel.toBytes(String.valueOf(c)));
        }
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() {
        var e = assertThrows(IllegalArgumentException.class, () -> gpt2.decode(new int[] {1, 50257}));
        assertTrue(e.getMessage().contains("50257") && e.getMessage().contains("0..50256"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> gpt2.tokenString(-1));
    }

    @Test
    void fromFilesReadsHuggingFacesVocabAndMerges(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        Gpt2Tokenizer fromFiles = Gpt2Tokenizer.fromFiles(dir.resolve("vocab.json"), dir.resolve("merges.txt"));
        assertEquals(50257, fromFiles.vocabSize());
        for (Gpt2TestFiles.Case c : Gpt2TestFiles.jsReference()) {
            assertArrayEquals(c.ids(), fromFiles.encode(c.text()), "text " + quote(c.text()));
        }
    }

    @Test
    void missingFilesAreNamed(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        var e = assertThrows(NoSuchFileException.class,
                () -> Gpt2Tokenizer.fromFiles(dir.resolve("vocab.json"), dir.resolve("nope.txt")));
        assertTrue(e.getMessage().contains("nope.txt") && e.getMessage().contains("missing")
                && e.getMessage().contains("merges"), e.getMessage());
        e = assertThrows(NoSuchFileException.class,
                () -> Gpt2Tokenizer.fromFiles(dir.resolve("absent.json"), dir.resolve("merges.txt")));
        assertTrue(e.getMessage().contains("absent.json"), e.getMessage());
    }

    @Test
    void mergesCutMidLineFailClearly(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        Path merges = dir.resolve("merges.txt");
        byte[] whole = Files.readAllBytes(merges);
        String text = new String(whole, StandardCharsets.UTF_8);
        int cut = text.indexOf(' ', text.length() / 2) - 2; // inside a line's first token
        Files.writeString(merges, text.substring(0, cut), StandardCharsets.UTF_8);
        IOException e = assertThrows(IOException.class, () -> Gpt2Tokenizer.fromFiles(dir.resolve("vocab.json"), merges));
        assertTrue(e.getMessage().contains("merges.txt") && e.getMessage().contains("line ")
                && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void mergesCutAtALineBreakFailClearly(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        Path merges = dir.resolve("merges.txt");
        List<String> lines = Files.readAllLines(merges, StandardCharsets.UTF_8);
        Files.write(merges, lines.subList(0, 1001), StandardCharsets.UTF_8);
        IOException e = assertThrows(IOException.class, () -> Gpt2Tokenizer.fromFiles(dir.resolve("vocab.json"), merges));
        assertTrue(e.getMessage().contains("merges.txt") && e.getMessage().contains("1000 merges")
                && e.getMessage().contains("truncated"), e.getMessage());

        Files.writeString(merges, "#version: 0.2\n");
        e = assertThrows(IOException.class, () -> Gpt2Tokenizer.fromFiles(dir.resolve("vocab.json"), merges));
        assertTrue(e.getMessage().contains("no merges"), e.getMessage());
    }

    @Test
    void corruptVocabularyFailsClearly(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        Path vocab = dir.resolve("vocab.json");
        byte[] whole = Files.readAllBytes(vocab);
        Files.write(vocab, Arrays.copyOf(whole, whole.length / 2));
        IOException e = assertThrows(IOException.class, () -> Gpt2Tokenizer.fromFiles(vocab, dir.resolve("merges.txt")));
        assertTrue(e.getMessage().contains("vocab.json") && e.getMessage().contains("truncated"), e.getMessage());

        Files.writeString(vocab, "[1, 2, 3]");
        e = assertThrows(IOException.class, () -> Gpt2Tokenizer.fromFiles(vocab, dir.resolve("merges.txt")));
        assertTrue(e.getMessage().contains("vocab.json") && e.getMessage().contains("JSON object"), e.getMessage());

        Files.writeString(vocab, "{\"a\": 0, \"b\": 1}");
        e = assertThrows(IOException.class, () -> Gpt2Tokenizer.fromFiles(vocab, dir.resolve("merges.txt")));
        assertTrue(e.getMessage().contains("no token for byte 0x00"), e.getMessage());
    }

    @Test
    void mergesOfAnotherVocabularyFailClearly(@TempDir Path dir) throws IOException {
        Gpt2TestFiles.writeVocabAndMerges(dir);
        Path merges = dir.resolve("merges.txt");
        Files.writeString(merges, "#version: 0.2\nĠ t\nq Qwxyzzy\n", StandardCharsets.UTF_8);
        IOException e = assertThrows(IOException.class, () -> Gpt2Tokenizer.fromFiles(dir.resolve("vocab.json"), merges));
        assertTrue(e.getMessage().contains("line 3") && e.getMessage().contains("'Qwxyzzy'"), e.getMessage());
    }

    static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            int type = Character.getType(cp);
            boolean invisible = type == Character.CONTROL || type == Character.FORMAT || type == Character.SPACE_SEPARATOR
                    || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR;
            if (invisible && cp != ' ') {
                out.append(String.format("\\u%04X", cp));
            } else {
                out.appendCodePoint(cp);
            }
        });
        return out.append('"').toString();
    }
}
