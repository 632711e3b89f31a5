package dev.loupe.kernel;

import dev.loupe.display.MimeBundle;

import io.github.spencerpark.jupyter.kernel.ReplacementOptions;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Cells through the kernel's JShell session, without Jupyter: values, errors as the user reads them, magics. */
class ReplTest {

    private static Repl repl;

    @BeforeAll
    static void start() {
        repl = new Repl();
        assertTrue(repl.runStartup("import dev.loupe.display.*;\n").isEmpty());
    }

    @AfterAll
    static void stop() {
        repl.close();
    }

    private static String text(String cell) throws CellError {
        return repl.run(cell, "Cell In[1]").map(MimeBundle::text).orElse(null);
    }

    private static String traceback(CellError e) {
        return String.join("\n", e.traceback()).replaceAll("\u001b\\[[0-9;]*m", "");
    }

    @Test
    void aCellEndingInAnExpressionHasItsValueAndOthersHaveNone() throws CellError {
        assertEquals("5", text("int a = 2;\nint b = 3;\na + b"));
        assertEquals(null, text("int c = 4;"));
        assertEquals(null, text("System.out.println(c);"));
        assertEquals("4", text("c"));
    }

    @Test
    void completionListsObjectsPlumbingLast() throws CellError {
        text("var plumbingProbe = new StringBuilder();");
        String code = "plumbingProbe.";
        List<String> options = repl.complete(code, code.length()).getReplacements();
        int firstPlumbing = options.indexOf("wait(");
        assertTrue(firstPlumbing > 0 && options.indexOf("append(") < firstPlumbing, options.toString());
        for (String last : List.of("notify()", "hashCode()", "getClass()")) {
            assertTrue(options.indexOf(last) > options.indexOf("reverse()"), last + " in " + options);
        }
    }

    @Test
    void inspectionShowsLoupesJavadocFromItsSources() {
        String code = "dev.loupe.tensor.Tensors.item";
        String doc = repl.inspect(code, code.length()).orElseThrow();
        assertTrue(doc.contains("Tensors.item(") && doc.contains("One element as a double, whatever the array's type"), doc);
        assertTrue(doc.contains("TransformerLens's x[l, h].item() is") && !doc.contains("{@code"), doc);
    }

    @Test
    void aFailingLineOfTheStartupScriptIsReportedAndTheRestStillRuns() throws CellError {
        var errors = repl.runStartup("import no.such.Thing;\nint afterTheError = 7;\n");
        assertEquals(1, errors.size());
        assertTrue(traceback(errors.get(0)).contains("startup.jsh, line 1"), traceback(errors.get(0)));
        assertEquals("7", text("afterTheError"));
    }

    @Test
    void aDisplayableValueRendersByItsOwnBundle() throws CellError {
        Optional<MimeBundle> bundle = repl.run("new Displayable() { public MimeBundle mimeBundle() {"
                + " return MimeBundle.text(\"t\").withHtml(\"<i>h</i>\"); } }", "Cell In[2]");
        assertEquals("<i>h</i>", bundle.orElseThrow().data().get(MimeBundle.HTML));
    }

    @Test
    void aCompileErrorNamesTheCellLineAndUnderlinesTheCode() {
        CellError e = assertThrows(CellError.class, () -> repl.run("int ok = 1;\n\n\nString s = ok;", "Cell In[7]"));
        assertEquals("CompileError", e.name());
        String tb = traceback(e);
        assertTrue(tb.contains("Cell In[7], line 4"), tb);
        assertTrue(tb.contains("String s = ok;\n               ^^"), tb);
        assertFalse(tb.contains("location: class"), tb);
    }

    @Test
    void pythonHabitsGetAHintNamingTheJava() throws CellError {
        text("var habits = new java.util.HashMap<String, Integer>();");
        String[][] cases = {
            {"a, b = habits.size()", "Java has no tuple assignment", "var cache = model.runWithCache(tokens); var logits = cache.logits();"},
            {"habits[\"pattern\", 1]", "Java has no [] on objects", "`habits.get(\"pattern\", 1)`"},
            {"habits[0, :, -1]", "Java has no [] on objects", "`habits.get(\"0, :, -1\")`"},
            {"habits.run_with_cache(1)", "camelCase", "`run_with_cache` is `runWithCache`"},
            {"def ablate(z, hook):\n    return z", "Python syntax", "(z, hook) -> z.mul(0)"},
        };
        for (String[] c : cases) {
            CellError e = assertThrows(CellError.class, () -> repl.run(c[0], "Cell In[8]"), c[0]);
            String tb = traceback(e);
            assertTrue(tb.contains("Hint: " ) && tb.contains(c[1]) && tb.contains(c[2]), c[0] + "\n" + tb);
        }
        CellError plain = assertThrows(CellError.class, () -> repl.run("String s = 1;", "Cell In[9]"));
        assertFalse(traceback(plain).contains("Hint"), traceback(plain));
    }

    @Test
    void anExceptionShowsCellLinesAndLibraryFramesButNoJShellOrKernelFrames() {
        CellError e = assertThrows(CellError.class, () -> repl.run(
                "void fail() {\n    java.util.List.of(1).get(5);\n}\n\nfail();", "Cell In[3]"));
        assertEquals("IndexOutOfBoundsException", e.name());
        String tb = traceback(e);
        assertTrue(tb.contains("at fail (Cell In[3], line 2)"), tb);
        assertTrue(tb.contains("at Cell In[3], line 5"), tb);
        assertTrue(tb.contains("java.util.ImmutableCollections"), tb);
        assertFalse(tb.contains("jdk.jshell") || tb.contains("dev.loupe.kernel") || tb.contains("$JShell"), tb);
    }

    @Test
    void messagesSpeakOfTheUsersNamesNotJShellsWrappers() {
        CellError e = assertThrows(CellError.class, () -> repl.run("String s = null;\ns.length()", "Cell In[6]"));
        assertEquals("NullPointerException", e.name());
        assertTrue(e.getMessage().endsWith("because \"s\" is null"), e.getMessage());
    }

    @Test
    void anInterruptStopsATightLoopAndTheNextCellRuns() throws Exception {
        Thread interrupter = new Thread(() -> {
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
            repl.interrupt();
        });
        interrupter.start();
        CellError e = assertThrows(CellError.class, () -> repl.run("while (true) {}", "Cell In[4]"));
        assertEquals("Interrupted", e.name());
        assertEquals("2", text("1 + 1"));
    }

    @Test
    void classpathMagicAddsAClassFolderBeforeTheCodeBelowItCompiles(@TempDir Path dir) throws Exception {
        Path source = Files.writeString(dir.resolve("Greeter.java"),
                "package demo; public class Greeter { public static String hi() { return \"hi\"; } }");
        assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", dir.toString(), source.toString()));
        assertEquals("hi", text("%classpath " + dir + "\ndemo.Greeter.hi()"));
    }

    @Test
    void anUnknownMagicSaysWhichOnesExist() {
        CellError e = assertThrows(CellError.class, () -> repl.run("%mvn a:b:1", "Cell In[5]"));
        assertEquals("MagicError", e.name());
        assertTrue(e.getMessage().contains("%classpath") && e.getMessage().contains("%maven"), e.getMessage());
    }

    @Test
    void completionReplacesTheWordAtTheCursorWithMembers() {
        String code = "int x = 1;\nMath.ma";
        ReplacementOptions options = repl.complete(code, code.length());
        assertTrue(options.getReplacements().contains("max("), options.getReplacements().toString());
        assertEquals(code.length() - 2, options.getSourceStart());
        assertEquals(code.length(), options.getSourceEnd());
    }

    @Test
    void completionInAMagicLineOffersNothing() {
        String code = "%classpath li";
        assertTrue(repl.complete(code, code.length()).getReplacements().isEmpty());
    }

    @Test
    void isCompleteSeesOpenBlocksAndIgnoresMagics() {
        assertEquals("complete", repl.isComplete("%classpath x.jar\nint y = 1;"));
        assertEquals("    ", repl.isComplete("if (true) {"));
    }
}
