package dev.loupe.kernel;

import dev.loupe.display.Display;
import dev.loupe.display.MimeBundle;
import dev.loupe.kernel.CellError.Place;

import io.github.spencerpark.jupyter.kernel.ReplacementOptions;

import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.JShellException;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.SourceCodeAnalysis.CompletionInfo;
import jdk.jshell.SourceCodeAnalysis.Documentation;
import jdk.jshell.SourceCodeAnalysis.Suggestion;
import jdk.jshell.UnresolvedReferenceException;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The notebook's Java session: JShell in this JVM, fed whole cells. A cell is Java code, split into JShell snippets
 * and run one after another, with {@code %magic} lines run where they stand. A cell ending in an expression has a
 * value, rendered by {@link Display#bundleOf}. Not thread-safe: the kernel uses it from one thread at a time, and
 * only {@link #interrupt} from another.
 */
final class Repl implements AutoCloseable {

    private static final Object NO_VALUE = new Object();

    /** What to do with each snippet of a piece of code; returns its value or {@link #NO_VALUE}. */
    private interface SnippetAction {
        Object apply(String source, int firstLine) throws CellError;
    }

    private final CellExecution execution = new CellExecution();
    private final JShell shell;
    private final SourceCodeAnalysis analysis;
    private final Magics magics;
    private final Map<String, Place> places = new HashMap<>();  // snippet id -> its source, for tracebacks

    Repl() {
        SourcePath.install(System.getProperty("java.class.path"));
        shell = JShell.builder().executionEngine(new ExecutionControlProvider() {
            @Override
            public String name() {
                return "loupe";
            }

            @Override
            public ExecutionControl generate(ExecutionEnv env, Map<String, String> parameters) {
                return execution;
            }
        }, Map.of()).build();
        analysis = shell.sourceCodeAnalysis();
        magics = new Magics(shell::addToClasspath, new MavenResolver());
    }

    /** Runs the startup script; a snippet that fails is reported and the rest still run. */
    List<CellError> runStartup(String script) {
        List<CellError> errors = new ArrayList<>();
        try {
            forEachSnippet(script, 1, (source, line) -> {
                try {
                    return eval(source, new Place("startup.jsh", line));
                } catch (CellError e) {
                    errors.add(e);
                    return NO_VALUE;
                }
            });
        } catch (CellError impossible) {
            throw new AssertionError(impossible);
        }
        return errors;
    }

    /** Runs a cell; if it ends with an expression, returns how its value renders. */
    Optional<MimeBundle> run(String code, String label) throws CellError {
        execution.beginCell();
        String[] lines = code.split("\n", -1);
        StringBuilder java = new StringBuilder();
        int javaStart = 1;
        for (int i = 0; i < lines.length; i++) {
            if (!Magics.isMagic(lines[i])) {
                java.append(lines[i]).append('\n');
                continue;
            }
            forEachSnippet(java.toString(), javaStart, (source, line) -> eval(source, new Place(label, line)));
            String magic = lines[i].strip();
            onCellThread(() -> {
                magics.run(magic);
                return null;
            });
            java.setLength(0);
            javaStart = i + 2;
        }
        Object value = forEachSnippet(java.toString(), javaStart, (source, line) -> eval(source, new Place(label, line)));
        return value == NO_VALUE ? Optional.empty() : Optional.of(onCellThread(() -> Display.bundleOf(value)));
    }

    /** Splits code into JShell snippets and applies the action to each, returning the last one's value. */
    private Object forEachSnippet(String code, int firstLine, SnippetAction action) throws CellError {
        Object value = NO_VALUE;
        String rest = code;
        int line = firstLine;
        while (!rest.isBlank()) {
            if (execution.interrupted()) {
                throw CellError.interrupted();
            }
            CompletionInfo info = analysis.analyzeCompletion(rest);
            if (info.completeness() == SourceCodeAnalysis.Completeness.EMPTY) {
                break;  // only comments are left
            }
            // Incomplete code goes to JShell as it is, so javac says what is missing.
            boolean complete = info.completeness().isComplete();
            String source = complete ? info.source() : rest;
            String next = complete ? info.remaining() : "";
            // JShell numbers a snippet's lines wrongly after leading blank lines; they go, and we count them.
            String stripped = source.stripLeading();
            String blank = source.substring(0, source.length() - stripped.length());
            value = action.apply(stripped, line + (int) blank.chars().filter(c -> c == '\n').count());
            String consumed = rest.substring(0, rest.length() - next.length());
            line += (int) consumed.chars().filter(c -> c == '\n').count();
            rest = next;
        }
        return value;
    }

    /** Evaluates one snippet: its value, or the CellError that says why it has none. */
    private Object eval(String source, Place place) throws CellError {
        Object value = NO_VALUE;
        for (SnippetEvent e : shell.eval(source)) {
            if (e.causeSnippet() != null) {
                continue;  // an update to an earlier snippet this one depends on
            }
            Snippet snippet = e.snippet();
            places.put(snippet.id(), place);
            Object v = execution.takeValue();
            if (e.status() == Snippet.Status.REJECTED) {
                throw CellError.compile(source, shell.diagnostics(snippet).collect(Collectors.toList()), place);
            }
            if (e.exception() != null) {
                throw runtimeError(e.exception());
            }
            if (e.status() == Snippet.Status.RECOVERABLE_DEFINED || e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED) {
                System.err.println("Note: " + describe(snippet) + " can be used once " + unresolved(snippet) + " is declared.");
            }
            boolean expression = snippet.kind() == Snippet.Kind.EXPRESSION
                    || snippet.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND;
            value = expression ? v : NO_VALUE;
        }
        if (execution.interrupted()) {
            throw CellError.interrupted();  // the snippet may have swallowed the interrupt; the cell still stops
        }
        return value;
    }

    private CellError runtimeError(JShellException e) {
        if (e instanceof EvalException ee) {
            return CellExecution.INTERRUPTED.equals(ee.getExceptionClassName())
                    ? CellError.interrupted() : CellError.thrown(ee, places::get);
        }
        Snippet snippet = ((UnresolvedReferenceException) e).getSnippet();
        String message = describe(snippet) + " cannot be used until " + unresolved(snippet) + " is declared";
        List<String> lines = new ArrayList<>(List.of("\u001b[1;31mUnresolvedReference\u001b[0m: " + message));
        lines.addAll(CellError.frames(e.getStackTrace(), places::get, 30));
        return new CellError("UnresolvedReference", message, lines);
    }

    private String unresolved(Snippet snippet) {
        return snippet instanceof jdk.jshell.DeclarationSnippet d
                ? String.join(", ", shell.unresolvedDependencies(d).collect(Collectors.toList())) : "?";
    }

    private static String describe(Snippet snippet) {
        return snippet instanceof jdk.jshell.MethodSnippet m ? m.name() + "(" + m.parameterTypes() + ")"
                : snippet instanceof jdk.jshell.DeclarationSnippet d ? d.name() : snippet.source().strip();
    }

    /** Runs kernel work for the cell (a magic, rendering a value) where an interrupt can reach it. */
    private <T> T onCellThread(Callable<T> work) throws CellError {
        try {
            return execution.run(work);
        } catch (InterruptedException e) {
            throw CellError.interrupted();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (execution.interrupted() && CellExecution.causedByInterrupt(cause)) {
                throw CellError.interrupted();
            }
            if (cause instanceof Magics.MagicException m) {
                throw new CellError("MagicError", m.getMessage(), List.of("\u001b[1;31mMagicError\u001b[0m: " + m.getMessage()));
            }
            throw CellError.thrown(cause);
        }
    }

    /** Interrupts the running cell, from any thread. */
    void interrupt() {
        execution.interrupt();
    }

    /** Completions at the cursor: the replacements and the range of the cell they replace. */
    ReplacementOptions complete(String code, int cursor) {
        if (Magics.isMagic(code.substring(code.lastIndexOf('\n', cursor - 1) + 1, cursor))) {
            return new ReplacementOptions(List.of(), cursor, cursor);  // magics take paths and coordinates, not Java
        }
        String text = blankMagics(code.substring(0, cursor));
        int start = snippetStart(text);
        int[] anchor = new int[1];
        List<String> options = analysis.completionSuggestions(text.substring(start), cursor - start, anchor).stream()
                .sorted(Comparator.comparing((Suggestion s) -> !s.matchesType()).thenComparing(s -> isObjectPlumbing(s.continuation())))
                .map(Suggestion::continuation)
                .distinct()
                .collect(Collectors.toList());
        return new ReplacementOptions(options, start + anchor[0], cursor);
    }

    /** Methods every object has that a researcher never means: listed after the rest. */
    private static final Set<String> OBJECT_PLUMBING = Set.of("wait", "notify", "notifyAll", "hashCode", "getClass", "equals");

    private static boolean isObjectPlumbing(String continuation) {
        int paren = continuation.indexOf('(');
        return OBJECT_PLUMBING.contains(paren < 0 ? continuation : continuation.substring(0, paren));
    }

    /** The signatures (and Javadoc, where sources are at hand) of what the cursor is on, or empty. */
    Optional<String> inspect(String code, int cursor) {
        int end = cursor;
        while (end < code.length() && Character.isJavaIdentifierPart(code.charAt(end))) {
            end++;
        }
        String text = blankMagics(code.substring(0, end));
        String snippet = text.substring(snippetStart(text));
        List<Documentation> docs = analysis.documentation(snippet, snippet.length(), true);
        if (docs.isEmpty()) {
            docs = analysis.documentation(snippet + "(", snippet.length() + 1, true);  // a method named, not yet called
        }
        return docs.isEmpty() ? Optional.empty() : Optional.of(docs.stream()
                .map(d -> d.signature() + (d.javadoc() == null ? "" : "\n\n" + plainJavadoc(d.javadoc())))
                .collect(Collectors.joining("\n\n")));
    }

    private static final Pattern INLINE_TAG = Pattern.compile("\\{@(?:code|literal|link|linkplain|value)\\s+((?:[^{}]|\\{[^{}]*})*)}");

    /** Javadoc as a reader wants it in a tooltip: {@code x} as x, no HTML paragraph tags. */
    static String plainJavadoc(String javadoc) {
        String text = INLINE_TAG.matcher(javadoc.strip()).replaceAll(m -> Matcher.quoteReplacement(m.group(1).strip()));
        return text.replaceAll("(?i)</?p>", "").replaceAll("(?i)</?(pre|ol|ul|li|b|i|em)>", "");
    }

    /** Jupyter's is_complete: "complete", "invalid", or the indent for the next line of an unfinished cell. */
    String isComplete(String code) {
        String rest = blankMagics(code);
        while (!rest.isBlank()) {
            CompletionInfo info = analysis.analyzeCompletion(rest);
            switch (info.completeness()) {
                case COMPLETE, COMPLETE_WITH_SEMI -> rest = info.remaining();
                case EMPTY -> rest = "";
                case DEFINITELY_INCOMPLETE, CONSIDERED_INCOMPLETE -> {
                    return nextIndent(code);
                }
                default -> {
                    return "invalid";
                }
            }
        }
        return "complete";
    }

    private static String nextIndent(String code) {
        String last = code.substring(code.lastIndexOf('\n') + 1);
        String indent = last.substring(0, last.length() - last.stripLeading().length());
        return last.strip().endsWith("{") || last.strip().endsWith("(") ? indent + "    " : indent;
    }

    /** Where the snippet that the end of {@code text} belongs to starts. */
    private int snippetStart(String text) {
        int start = 0;
        String rest = text;
        while (true) {
            CompletionInfo info = analysis.analyzeCompletion(rest);
            if (!info.completeness().isComplete() || info.remaining().isBlank()) {
                return start;
            }
            start += rest.length() - info.remaining().length();
            rest = info.remaining();
        }
    }

    /** The code with magic lines turned to spaces, so positions still match the cell. */
    private static String blankMagics(String code) {
        String[] lines = code.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (Magics.isMagic(lines[i])) {
                lines[i] = " ".repeat(lines[i].length());
            }
        }
        return String.join("\n", lines);
    }

    @Override
    public void close() {
        shell.close();
    }
}
