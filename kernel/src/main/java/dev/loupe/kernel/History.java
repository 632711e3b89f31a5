package dev.loupe.kernel;

import com.google.gson.JsonArray;

import io.github.spencerpark.jupyter.messages.ContentType;
import io.github.spencerpark.jupyter.messages.MessageType;
import io.github.spencerpark.jupyter.messages.reply.HistoryReply;
import io.github.spencerpark.jupyter.messages.request.HistoryRequest;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The cells this kernel ran, for Jupyter's history requests (a console's up arrow, a search through past input), with
 * IPython's meaning for each kind of request. Kept in memory for the life of the kernel: its one session, numbered
 * {@link #SESSION}. Used from the shell thread only.
 */
final class History {

    /** The session number entries carry. As in IPython, a request for session 0 means the current one. */
    private static final int SESSION = 1;

    /**
     * A history reply as the protocol has it. The base kernel's has no status, and its entries would go out as JSON
     * objects (their adapter is not registered where replies are written), not as [session, line, input] arrays.
     */
    static final class Reply implements ContentType<Reply> {
        @SuppressWarnings("unused")  // written by Gson
        private final String status = "ok";
        private final JsonArray history;

        private Reply(JsonArray history) {
            this.history = history;
        }

        JsonArray history() {
            return history;
        }

        @Override
        @SuppressWarnings("unchecked")  // history_reply, whose content class is the base kernel's rather than this one
        public MessageType<Reply> getType() {
            return (MessageType<Reply>) (MessageType<?>) HistoryReply.MESSAGE_TYPE;
        }
    }

    private record Cell(int line, String input, String output) {}

    private final List<Cell> cells = new ArrayList<>();

    /** Records a cell: its execution count, its code and the text of its value (null if it had none). */
    void add(int line, String input, String output) {
        cells.add(new Cell(line, input, output));
    }

    Reply answer(HistoryRequest request) {
        List<Cell> found = switch (request.getAccessType()) {
            case TAIL -> last(cells, ((HistoryRequest.Tail) request).getMaxReturnLength());
            case RANGE -> range((HistoryRequest.Range) request);
            case SEARCH -> search((HistoryRequest.Search) request);
        };
        JsonArray entries = new JsonArray();
        found.forEach(c -> entries.add(entry(c, request.includeOutput())));
        return new Reply(entries);
    }

    /** Lines start (inclusive) to stop (exclusive; 0 for the end) of this session, the only one there is. */
    private List<Cell> range(HistoryRequest.Range r) {
        if (r.getSessionIndex() != 0 && r.getSessionIndex() != SESSION) {
            return List.of();
        }
        return cells.stream()
                .filter(c -> c.line() >= r.getStart() && (r.getStop() <= 0 || c.line() < r.getStop()))
                .toList();
    }

    /** Cells whose code matches the glob pattern, only the latest of equal ones if unique, the last n if n > 0. */
    private List<Cell> search(HistoryRequest.Search s) {
        Pattern pattern = glob(s.getPattern());
        List<Cell> found = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = cells.size() - 1; i >= 0; i--) {
            Cell c = cells.get(i);
            if (pattern.matcher(c.input()).matches() && (!s.filterUnique() || seen.add(c.input()))) {
                found.add(c);
            }
        }
        Collections.reverse(found);
        return s.getMaxReturnLength() > 0 ? last(found, s.getMaxReturnLength()) : found;
    }

    private static List<Cell> last(List<Cell> cells, int n) {
        return cells.subList(Math.max(0, cells.size() - Math.max(0, n)), cells.size());
    }

    /** IPython's patterns are SQLite globs: * any text, ? one character, [...] one of a set; case counts. */
    static Pattern glob(String glob) {
        StringBuilder regex = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char ch = glob.charAt(i);
            int close = ch == '[' ? glob.indexOf(']', i + 2) : -1;
            if (ch == '*') {
                regex.append(".*");
            } else if (ch == '?') {
                regex.append('.');
            } else if (close > 0) {  // a set reads the same in both, "[^...]" included, once \ [ ] & are escaped
                regex.append('[').append(glob.substring(i + 1, close).replaceAll("[\\\\\\[\\]&]", "\\\\$0")).append(']');
                i = close;
            } else {
                regex.append(Pattern.quote(String.valueOf(ch)));
            }
        }
        return Pattern.compile(regex.toString(), Pattern.DOTALL);
    }

    /** [session, line, input], or with output asked for [session, line, [input, output]], output null if none. */
    private static JsonArray entry(Cell c, boolean withOutput) {
        JsonArray entry = new JsonArray();
        entry.add(SESSION);
        entry.add(c.line());
        if (withOutput) {
            JsonArray pair = new JsonArray();
            pair.add(c.input());
            pair.add(c.output());
            entry.add(pair);
        } else {
            entry.add(c.input());
        }
        return entry;
    }
}
