package dev.loupe.display;

import dev.loupe.load.Progress;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressBarTest {

    /** What a notebook (or a console) would have been sent. */
    static final class FakeSink implements Display.Sink {
        record Call(String kind, MimeBundle bundle, String id, long atNanos) {}

        final boolean updates;
        final AtomicLong clock;
        final List<Call> calls = new ArrayList<>();

        FakeSink(boolean updates, AtomicLong clock) {
            this.updates = updates;
            this.clock = clock;
        }

        @Override
        public void display(MimeBundle bundle, String displayId) {
            calls.add(new Call("display", bundle, displayId, clock.get()));
        }

        @Override
        public void update(MimeBundle bundle, String displayId) {
            calls.add(new Call("update", bundle, displayId, clock.get()));
        }

        @Override
        public boolean supportsUpdates() {
            return updates;
        }
    }

    private static final Pattern PERCENT = Pattern.compile("(\\d+)% \\(");
    private static final long MS = 1_000_000L;

    @AfterEach
    void restoreConsole() {
        Display.setSink(null);
    }

    @Test
    void inANotebookOneDisplayThenThrottledUpdatesWithRisingFractions() {
        AtomicLong clock = new AtomicLong(0);
        FakeSink sink = new FakeSink(true, clock);
        Display.setSink(sink);
        ProgressBar bar = ProgressBar.start("Training <model>", 1000, clock::get);
        for (int i = 1; i <= 1000; i++) {
            clock.addAndGet(2 * MS); // 500 calls a second, 2 s in all
            bar.update(i);
        }
        clock.addAndGet(5 * MS);
        bar.done();

        assertEquals("display", sink.calls.get(0).kind());
        String id = sink.calls.get(0).id();
        List<FakeSink.Call> updates = sink.calls.subList(1, sink.calls.size());
        assertTrue(updates.stream().allMatch(c -> c.kind().equals("update") && c.id().equals(id)));
        // 2 s at most 10 a second: 20 throttled updates, then the final one
        assertEquals(21, updates.size(), updates.toString());
        for (int i = 1; i < updates.size() - 1; i++) {
            assertTrue(updates.get(i).atNanos() - updates.get(i - 1).atNanos() >= 100 * MS, "too soon at " + i);
        }
        int last = -1;
        for (FakeSink.Call c : updates.subList(0, updates.size() - 1)) {
            Matcher m = PERCENT.matcher(c.bundle().text());
            assertTrue(m.find(), c.bundle().text());
            int pct = Integer.parseInt(m.group(1));
            assertTrue(pct > last, "fractions must rise: " + pct + " after " + last);
            last = pct;
        }
        MimeBundle end = updates.get(updates.size() - 1).bundle();
        assertTrue(end.text().startsWith("Training <model>: done, 1,000 in 2.0 s"), end.text());
        String html = end.data().get(MimeBundle.HTML);
        assertTrue(html.contains("width:100.0%") && html.contains("Training &lt;model&gt;"), html);
        assertFalse(html.contains("<model>"));
        assertEquals(1.0, bar.fraction());

        // once done, further calls send nothing
        int calls = sink.calls.size();
        bar.update(5);
        bar.done();
        bar.close();
        assertEquals(calls, sink.calls.size());
    }

    @Test
    void theHtmlBarWidthFollowsTheFraction() {
        FakeSink sink = new FakeSink(true, new AtomicLong(0));
        ProgressBar bar = eightStepsASecondOld(sink);
        bar.update(3);
        MimeBundle b = sink.calls.get(sink.calls.size() - 1).bundle();
        assertTrue(b.data().get(MimeBundle.HTML).contains("width:37.5%"), b.data().get(MimeBundle.HTML));
        assertEquals("x: 37% (3 of 8) 1.0 s, about 1.7 s left", b.text());
        bar.close();
        assertTrue(sink.calls.get(sink.calls.size() - 1).bundle().text().startsWith("x: stopped at 37% (3 of 8)"));
    }

    @Test
    void aNoteFollowsTheAmountUntilTheBarEnds() {
        FakeSink sink = new FakeSink(true, new AtomicLong(0));
        ProgressBar bar = eightStepsASecondOld(sink);
        bar.update(3, "1 of 4 partitions");
        assertEquals("x: 37% (3 of 8) 1.0 s, about 1.7 s left; 1 of 4 partitions", sink.calls.get(sink.calls.size() - 1).bundle().text());
        bar.update(8, "4 partitions, 8 tokens/s");
        bar.done();
        assertEquals("x: done, 8 in 1.0 s; 4 partitions, 8 tokens/s", sink.calls.get(sink.calls.size() - 1).bundle().text());
        bar.update(8, "after the end");
        bar.close();
        assertEquals("x: done, 8 in 1.0 s; 4 partitions, 8 tokens/s", bar.mimeBundle().text());
    }

    /** A bar "x" of 8 steps shown in {@code sink}, on its clock, started a second ago. */
    private static ProgressBar eightStepsASecondOld(FakeSink sink) {
        Display.setSink(sink);
        ProgressBar bar = ProgressBar.start("x", 8, sink.clock::get);
        sink.clock.addAndGet(1000 * MS);
        return bar;
    }

    @Test
    void onAConsoleALineAboutEveryTenth() {
        AtomicLong clock = new AtomicLong(0);
        FakeSink sink = new FakeSink(false, clock);
        Display.setSink(sink);
        ProgressBar bar = ProgressBar.start("Epochs", 200, clock::get);
        for (int i = 1; i <= 200; i++) {
            clock.addAndGet(MS);
            bar.update(i);
        }
        bar.done();
        List<String> lines = sink.calls.stream().map(c -> c.bundle().text()).toList();
        assertEquals(11, lines.size(), lines.toString()); // start, 10% .. 90%, done
        assertTrue(lines.get(0).startsWith("Epochs: 0% (0 of 200)"), lines.get(0));
        assertTrue(lines.get(1).startsWith("Epochs: 10% (20 of 200)"), lines.get(1));
        assertTrue(lines.get(9).startsWith("Epochs: 90% (180 of 200)"), lines.get(9));
        assertEquals("Epochs: done, 200 in 200 ms", lines.get(10));
    }

    @Test
    void theDefaultConsoleSinkPrintsLines() {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            Display.setSink(null);
            ProgressBar bar = ProgressBar.start("Steps", 4);
            for (int i = 1; i <= 4; i++) {
                bar.update(i);
            }
            bar.done();
        } finally {
            System.setOut(saved);
        }
        List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
        // 4 steps: 25%, 50%, 75% each pass another tenth
        assertEquals(5, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("Steps: 0% (0 of 4)"));
        assertTrue(lines.get(2).startsWith("Steps: 50% (2 of 4)"));
        assertTrue(lines.get(4).startsWith("Steps: done, 4 in "));
    }

    @Test
    void downloadsShowABarInANotebook() {
        AtomicLong clock = new AtomicLong(0);
        FakeSink sink = new FakeSink(true, clock);
        Display.setSink(sink);
        Progress p = Progress.forDownloads();
        p.start("gpt2/model.safetensors", 548_105_171);
        p.advance(1000); // throttled: no time has passed on the real clock to speak of
        p.done();
        assertEquals("display", sink.calls.get(0).kind());
        assertTrue(sink.calls.get(0).bundle().text().startsWith(
                "Downloading gpt2/model.safetensors: 0% (0 B of 548.1 MB)"), sink.calls.get(0).bundle().text());
        MimeBundle last = sink.calls.get(sink.calls.size() - 1).bundle();
        assertTrue(last.text().startsWith("Downloading gpt2/model.safetensors: done, 548.1 MB in "), last.text());
    }

    @Test
    void downloadsOnAConsoleKeepTheHubsLines() {
        Display.setSink(null);
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            Progress p = Progress.forDownloads();
            p.start("a/b", 1000);
            p.advance(550);
            p.done();
        } finally {
            System.setErr(saved);
        }
        assertEquals(List.of("Downloading a/b (1.0 kB)", "  a/b: 50% (550 B of 1.0 kB)", "  a/b: done"),
                err.toString(StandardCharsets.UTF_8).lines().toList());
    }

    @Test
    void anUnknownTotalCountsWithoutAPercentage() {
        AtomicLong clock = new AtomicLong(0);
        FakeSink sink = new FakeSink(true, clock);
        Display.setSink(sink);
        ProgressBar bar = ProgressBar.start("Batches", 0, clock::get);
        clock.addAndGet(300 * MS);
        bar.update(12_345);
        assertEquals("Batches: 12,345 300 ms", sink.calls.get(1).bundle().text());
        assertTrue(Double.isNaN(bar.fraction()));
    }

    @Test
    void durations() {
        assertEquals("850 ms", ProgressBar.duration(850 * MS));
        assertEquals("3.1 s", ProgressBar.duration(3100 * MS));
        assertEquals("2 min 05 s", ProgressBar.duration(125_000 * MS));
        assertEquals("1 h 02 min", ProgressBar.duration(3_720_000 * MS));
    }
}
