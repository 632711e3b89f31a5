package dev.loupe.load;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class HubConsoleProgressTest {

    private static List<String> lines(ByteArrayOutputStream out) {
        return out.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void aStartALineAboutEveryTenPercentAndADone() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Progress p = new ConsoleProgress(new PrintStream(out, true, StandardCharsets.UTF_8));
        p.start("gpt2/model.safetensors", 2_000_000);
        for (long b = 0; b <= 2_000_000; b += 1000) {
            p.advance(b);
        }
        p.done();
        List<String> lines = lines(out);
        assertEquals(11, lines.size(), lines.toString());
        assertEquals("Downloading gpt2/model.safetensors (2.0 MB)", lines.get(0));
        assertEquals("  gpt2/model.safetensors: 10% (200.0 kB of 2.0 MB)", lines.get(1));
        assertEquals("  gpt2/model.safetensors: 90% (1.8 MB of 2.0 MB)", lines.get(9));
        assertEquals("  gpt2/model.safetensors: done", lines.get(10));
    }

    @Test
    void aJumpPrintsOneLineAndAnUnknownSizePrintsByVolume() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Progress p = new ConsoleProgress(new PrintStream(out, true, StandardCharsets.UTF_8));
        p.start("a/b", 1000);
        p.advance(550); // a resumed download
        p.advance(590); // still in the 50s
        p.done();
        p.start("a/c", -1);
        p.advance(ConsoleProgress.UNKNOWN_SIZE_STEP * 2 + 5);
        p.done();
        assertEquals(List.of("Downloading a/b (1.0 kB)", "  a/b: 50% (550 B of 1.0 kB)", "  a/b: done",
                "Downloading a/c (size unknown)", "  a/c: 200.0 MB", "  a/c: done"), lines(out));
    }
}
