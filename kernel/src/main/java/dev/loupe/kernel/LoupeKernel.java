package dev.loupe.kernel;

import dev.loupe.display.MimeBundle;

import io.github.spencerpark.jupyter.channels.JupyterConnection;
import io.github.spencerpark.jupyter.channels.ShellReplyEnvironment;
import io.github.spencerpark.jupyter.kernel.BaseKernel;
import io.github.spencerpark.jupyter.kernel.LanguageInfo;
import io.github.spencerpark.jupyter.kernel.ReplacementOptions;
import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.github.spencerpark.jupyter.messages.Header;
import io.github.spencerpark.jupyter.messages.Message;
import io.github.spencerpark.jupyter.messages.MessageType;
import io.github.spencerpark.jupyter.messages.publish.PublishError;
import io.github.spencerpark.jupyter.messages.publish.PublishExecuteInput;
import io.github.spencerpark.jupyter.messages.publish.PublishExecuteResult;
import io.github.spencerpark.jupyter.messages.reply.ErrorReply;
import io.github.spencerpark.jupyter.messages.reply.ExecuteReply;
import io.github.spencerpark.jupyter.messages.reply.KernelInfoReply;
import io.github.spencerpark.jupyter.messages.request.ExecuteRequest;
import io.github.spencerpark.jupyter.messages.request.HistoryRequest;
import io.github.spencerpark.jupyter.messages.request.KernelInfoRequest;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

/**
 * The Loupe Jupyter kernel: Java cells run by JShell in this JVM, results rendered through
 * {@link dev.loupe.display.Display}. JShell starts (and runs the startup script) while the connection comes up; the
 * first request that needs it waits for it.
 */
public final class LoupeKernel extends BaseKernel {

    private final CellOutput output;
    private final History history = new History();
    private final CompletableFuture<Repl> repl;
    private volatile String startupProblems;

    public LoupeKernel(String startupScript) {
        // The base kernel's swap of System.out per request would bypass CellOutput's batching and ordering.
        setShouldReplaceStdStreams(false);
        output = CellOutput.install();
        repl = CompletableFuture.supplyAsync(() -> {
            Repl r = new Repl();
            List<CellError> errors = r.runStartup(startupScript);
            if (!errors.isEmpty()) {
                startupProblems = "The startup script had errors; the rest of it ran:\n" + errors.stream()
                        .map(e -> String.join("\n", e.traceback())).collect(Collectors.joining("\n"));
                System.err.println(startupProblems);
            }
            return r;
        }, work -> {
            Thread t = new Thread(work, "loupe-startup");
            t.setDaemon(true);
            t.start();
        });
    }

    @Override
    public void becomeHandlerForConnection(JupyterConnection connection) {
        super.becomeHandlerForConnection(connection);
        connection.setHandler(MessageType.EXECUTE_REQUEST, this::execute);
        connection.setHandler(MessageType.KERNEL_INFO_REQUEST, this::kernelInfo);
        connection.setHandler(MessageType.HISTORY_REQUEST, this::history);
    }

    /**
     * Runs a cell. Our own handler rather than the base kernel's, so that errors are named after the exception the
     * user's code threw (the base kernel names them after the Java exception class that carries them) and so that
     * nothing, not even an OutOfMemoryError, ends the thread that serves the shell channel.
     */
    private void execute(ShellReplyEnvironment env, Message<ExecuteRequest> message) {
        commManager.setMessageContext(message);
        ExecuteRequest request = message.getContent();
        // As in IPython, only a cell kept in the history counts; a silent one never is.
        boolean kept = request.shouldStoreHistory() && !request.isSilent();
        int count = kept ? executionCount.getAndIncrement() : executionCount.get();
        env.setBusyDeferIdle();
        if (!request.isSilent()) {
            env.publish(new PublishExecuteInput(request.getCode(), count));
        }
        output.attach(env, request.isStdinEnabled());
        CellError error = null;
        String shown = null;
        try {
            Repl r = repl.join();
            String problems = startupProblems;
            if (problems != null) {
                startupProblems = null;
                System.err.println(problems);  // once, in the first cell, where the user sees it
            }
            Optional<MimeBundle> result = r.run(request.getCode(), "Cell In[" + count + "]");
            if (result.isPresent() && !request.isSilent()) {
                output.publish(new PublishExecuteResult(count, CellOutput.toDisplayData(result.get())));
                shown = result.get().text();
            }
        } catch (CellError e) {
            error = e;
        } catch (Throwable t) {
            error = CellError.thrown(t);  // a failure in the kernel itself: reported, and the kernel goes on
        }
        if (error != null) {
            output.publish(new PublishError(error.name(), error.getMessage(), error.traceback()));
        }
        output.detach();
        if (kept) {
            history.add(count, request.getCode(), shown);
        }
        if (error == null) {
            env.defer().reply(new ExecuteReply(count, Map.of()));
        } else {
            ErrorReply reply = new ErrorReply(error.name(), error.getMessage(), error.traceback());
            reply.setExecutionCount(count);
            env.defer().replyError(ExecuteReply.MESSAGE_TYPE.error(), reply);
        }
    }

    /** The base kernel's reply, with the status the protocol requires (the base kernel's has none). */
    private void kernelInfo(ShellReplyEnvironment env, Message<KernelInfoRequest> message) {
        env.setBusyDeferIdle();
        env.reply(new KernelInfo(getLanguageInfo(), getBanner(), getHelpLinks()));
    }

    private static final class KernelInfo extends KernelInfoReply {
        @SuppressWarnings("unused")  // written by Gson
        private final String status = "ok";

        KernelInfo(LanguageInfo language, String banner, List<LanguageInfo.Help> helpLinks) {
            super(Header.PROTOCOL_VERISON, KERNEL_META.get("project"), KERNEL_META.get("version"), language, banner, helpLinks);
        }
    }

    /** The base kernel leaves history requests unanswered, and a client waiting for the reply would hang. */
    private void history(ShellReplyEnvironment env, Message<HistoryRequest> message) {
        env.setBusyDeferIdle();
        env.reply(history.answer(message.getContent()));
    }

    /** The base kernel's entry point for running code; cells come through {@link #execute} instead. */
    @Override
    public DisplayData eval(String code) throws CellError {
        return repl.join().run(code, "Code").map(CellOutput::toDisplayData).orElse(null);
    }

    @Override
    public ReplacementOptions complete(String code, int at) {
        return repl.join().complete(code, at);
    }

    @Override
    public DisplayData inspect(String code, int at, boolean extraDetail) {
        return repl.join().inspect(code, at).map(DisplayData::new).orElse(null);
    }

    @Override
    public String isComplete(String code) {
        return repl.join().isComplete(code);
    }

    /** From the control channel (interrupt_mode "message") or SIGINT. Before JShell is up there is nothing to stop. */
    @Override
    public void interrupt() {
        Repl r = repl.getNow(null);
        if (r != null) {
            r.interrupt();
        }
    }

    @Override
    public void onShutdown(boolean isRestarting) {
        interrupt();
    }

    @Override
    public LanguageInfo getLanguageInfo() {
        // The feature version ("17"), not the full one: Notebook saves this into every notebook and marks an opened one
        // changed when it differs, so an update release of the JDK must not dirty committed notebooks.
        return new LanguageInfo.Builder("java")
                .version(String.valueOf(Runtime.version().feature()))
                .mimetype("text/x-java-source")
                .fileExtension(".jshell")
                .pygments("java")
                .codemirror("text/x-java")
                .build();
    }

    @Override
    public String getBanner() {
        return "Loupe: Java " + Runtime.version() + " with JShell; %classpath, %maven";
    }
}
