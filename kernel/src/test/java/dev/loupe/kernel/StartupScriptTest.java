package dev.loupe.kernel;

import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** kernel/startup.jsh evaluates in JShell against the library, and a first cell works after it. */
class StartupScriptTest {

    @Test
    void startupScriptImportsThePublicApiAndAFirstCellRuns() throws IOException {
        String script = Files.readString(Path.of("startup.jsh"));
        try (JShell shell = JShell.builder().executionEngine("local").build()) {
            shell.addToClasspath(System.getProperty("java.class.path"));
            for (String line : script.split("\n")) {
                if (line.isBlank() || line.startsWith("//")) {
                    continue;
                }
                for (SnippetEvent e : shell.eval(line)) {
                    assertEquals(Snippet.Status.VALID, e.status(), line + ": " + shell.diagnostics(e.snippet()).toList());
                }
            }
            List<SnippetEvent> events = shell.eval("HookedTransformer.create(ModelConfig.builder().nLayers(1).dModel(16)"
                    + ".nHeads(2).dVocab(10).nCtx(8).build(), 0).runWithCache(Tensors.tokens(1, 2, 3)).get(\"pattern\", 0).getShape().toString()");
            SnippetEvent last = events.get(events.size() - 1);
            assertTrue(last.exception() == null, String.valueOf(last.exception()));
            assertEquals("\"(1, 2, 3, 3)\"", last.value());
        }
    }
}
