package dev.loupe.kernel;

import com.google.gson.JsonParser;

import dev.loupe.display.Display;
import dev.loupe.display.MimeBundle;

import io.github.spencerpark.jupyter.channels.JupyterInputStream;
import io.github.spencerpark.jupyter.channels.ShellReplyEnvironment;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.github.spencerpark.jupyter.messages.ContentType;
import io.github.spencerpark.jupyter.messages.publish.PublishDisplayData;
import io.github.spencerpark.jupyter.messages.publish.PublishStream;
import io.github.spencerpark.jupyter.messages.publish.PublishUpdateDisplayData;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Where a running cell's output goes: System.out and System.err become stream messages, Display calls become display
 * data, and System.in reads from the notebook's input box. Text is sent every {@link #TICK_MS} ms, so it shows while the
 * cell runs, and a loop printing thousands of lines makes a few messages, not thousands. Between cells, text goes to
 * the kernel's own streams (its log).
 * <p>
 * Output belongs to the cell whose thread wrote it: a cell's threads, and the threads they start, write into that
 * cell while it runs and into the kernel's log once it has ended, never into a later cell. Threads no cell started
 * (the kernel's own, the common fork-join pool's, which runs parallel streams) write into whichever cell is running.
 * <p>
 * One lock (this object) guards the text buffers and the cell's reply environment, so nothing reaches IOPub after
 * {@link #detach} and output keeps the order it was written in. Holding it while publishing is cheap (IOPub never
 * blocks) and, being reentrant, safe when publishing itself writes to System.err.
 */
final class CellOutput implements Display.Sink {

    private static final long TICK_MS = 50;

    /** The cell a thread writes for; threads inherit it from the thread that starts them. */
    private static final InheritableThreadLocal<Object> CELL = new InheritableThreadLocal<>();

    private final TextStream out;
    private final TextStream err;
    private final JupyterInputStream in = new JupyterInputStream(StandardCharsets.UTF_8);
    private ShellReplyEnvironment env;
    private Object cell;  // the running cell, or null between cells

    private CellOutput(PrintStream kernelOut, PrintStream kernelErr) {
        out = new TextStream(PublishStream.StreamType.OUT, kernelOut);
        err = new TextStream(PublishStream.StreamType.ERR, kernelErr);
    }

    /** Takes over System.out, System.err, System.in and Display's sink for the life of the kernel. */
    static CellOutput install() {
        CellOutput output = new CellOutput(System.out, System.err);
        System.setOut(new PrintStream(output.out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(output.err, true, StandardCharsets.UTF_8));
        System.setIn(output.in);
        Display.setSink(output);
        ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "loupe-output");
            t.setDaemon(true);
            return t;
        });
        ticker.scheduleWithFixedDelay(() -> {
            try {
                output.flush();
            } catch (Throwable e) {  // e.g. out of memory while a cell fills the heap: the next tick tries again
            }
        }, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
        return output;
    }

    /**
     * From now on output belongs to the cell that {@code env} answers. Called on the thread that runs the cell, which
     * passes the cell on to the threads it starts.
     */
    synchronized void attach(ShellReplyEnvironment env, boolean stdinAllowed) {
        this.env = env;
        cell = new Object();
        CELL.set(cell);
        in.setEnv(env);
        in.setEnabled(stdinAllowed);
    }

    /** Sends what the cell wrote so far; later output goes to the kernel's log. */
    synchronized void detach() {
        flush();
        in.retractEnv(env);
        env = null;
        cell = null;
        CELL.remove();
    }

    /** Whether the calling thread writes into the running cell rather than the log: it is not a thread of an ended cell. */
    private boolean forRunningCell() {  // called with the lock held
        Object owner = CELL.get();
        return env != null && (owner == null || owner == cell);
    }

    /** Sends pending text now. */
    synchronized void flush() {
        out.send();
        err.send();
    }

    /** Publishes a message of the running cell on IOPub, after the text written before it. */
    synchronized void publish(ContentType<?> content) {
        flush();
        if (env != null) {
            publishNow(content);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void publishNow(ContentType content) {
        env.publish(content);
    }

    @Override
    public void display(MimeBundle bundle, String displayId) {
        DisplayData data = toDisplayData(bundle);
        data.setDisplayId(displayId);
        showOrLog(new PublishDisplayData(data), bundle);
    }

    @Override
    public void update(MimeBundle bundle, String displayId) {
        DisplayData data = toDisplayData(bundle);
        data.setDisplayId(displayId);
        showOrLog(new PublishUpdateDisplayData(data), bundle);
    }

    private synchronized void showOrLog(ContentType<?> content, MimeBundle bundle) {
        if (forRunningCell()) {
            publish(content);
        } else {
            out.kernelLog.println(bundle.text());  // displayed between cells or from a thread that outlived its cell
        }
    }

    @Override
    public boolean supportsUpdates() {
        return true;
    }

    /** Jupyter display data with every representation of the bundle; JSON types travel as JSON, not as strings. */
    static DisplayData toDisplayData(MimeBundle bundle) {
        DisplayData data = new DisplayData();
        for (Map.Entry<String, String> e : bundle.data().entrySet()) {
            String type = e.getKey();
            boolean json = type.equals("application/json") || type.endsWith("+json");
            data.putData(type, json ? JsonParser.parseString(e.getValue()) : e.getValue());
        }
        return data;
    }

    /** One of System.out / System.err: collects bytes, sent as text on each tick. */
    private final class TextStream extends OutputStream {
        private final PublishStream.StreamType type;
        private final PrintStream kernelLog;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        TextStream(PublishStream.StreamType type, PrintStream kernelLog) {
            this.type = type;
            this.kernelLog = kernelLog;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            synchronized (CellOutput.this) {
                if (forRunningCell()) {
                    pending.write(b, off, len);
                } else {
                    kernelLog.write(b, off, len);
                }
            }
        }

        /** Sends the complete characters written so far (a character split across writes waits for its end). */
        void send() {  // called with the lock held
            byte[] bytes = pending.toByteArray();
            int end = completeUtf8Length(bytes);
            if (end == 0) {
                return;
            }
            String text = new String(bytes, 0, end, StandardCharsets.UTF_8);
            pending.reset();
            pending.write(bytes, end, bytes.length - end);
            if (env != null) {
                publishNow(new PublishStream(type, text));
            } else {
                kernelLog.print(text);
                kernelLog.flush();
            }
        }
    }

    /** The length of the longest prefix of {@code bytes} that does not end inside a UTF-8 sequence. */
    static int completeUtf8Length(byte[] bytes) {
        int n = bytes.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int b = bytes[n - back] & 0xff;
            if ((b & 0xc0) != 0x80) {  // the last lead byte (or ASCII): is its sequence complete?
                int need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
                return need > back ? n - back : n;
            }
        }
        return n;
    }
}
