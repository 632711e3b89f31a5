package dev.loupe.kernel;

import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's TransformerLens → Loupe table: every entry of its Loupe column runs, row after row, in one JShell
 * session set up by kernel/startup.jsh, as in a notebook. A renamed method or a changed signature fails here.
 */
class CheatSheetTest {

    private static final Pattern ROW = Pattern.compile("^\\| `(.+)`.* \\| `(.+)` \\|$");

    @Test
    void everyLoupeEntryRunsInANotebookSession() throws IOException {
        List<String> rows = loupeColumn(Files.readString(Path.of("../README.md")));
        assertTrue(rows.size() >= 40, "the table has " + rows.size() + " rows");
        try (JShell shell = JShell.builder().executionEngine("local").build()) {
            shell.addToClasspath(System.getProperty("java.class.path"));
            for (String line : Files.readString(Path.of("startup.jsh")).split("\n")) {
                if (!line.isBlank() && !line.startsWith("//")) {
                    shell.eval(line);
                }
            }
            for (String row : rows) {
                for (String snippet : snippets(shell, row)) {
                    for (SnippetEvent e : shell.eval(snippet)) {
                        if (e.snippet() == null) {
                            continue;
                        }
                        assertEquals(Snippet.Status.VALID, e.status(), row + ": " + shell.diagnostics(e.snippet())
                                .map(d -> d.getMessage(null)).toList());
                        assertNull(e.exception(), () -> row + ": " + e.exception());
                    }
                }
            }
        }
    }

    /** The code of the Loupe column, from the section's table. */
    static List<String> loupeColumn(String readme) {
        int start = readme.indexOf("## Coming from TransformerLens");
        assertTrue(start >= 0, "the README has no section 'Coming from TransformerLens'");
        int end = readme.indexOf("\n## ", start + 1);
        List<String> rows = new ArrayList<>();
        for (String line : readme.substring(start, end).split("\n")) {
            Matcher m = ROW.matcher(line);
            if (m.matches()) {
                rows.add(m.group(2));
            }
        }
        return rows;
    }

    /** A row's statements one at a time, as JShell takes them. */
    private static List<String> snippets(JShell shell, String code) {
        List<String> out = new ArrayList<>();
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String rest = code;
        while (!rest.isBlank()) {
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(rest);
            out.add(info.source() != null ? info.source() : rest);
            rest = info.source() != null ? info.remaining() : "";
        }
        return out;
    }
}
