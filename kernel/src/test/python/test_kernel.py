"""The Loupe kernel driven by a real Jupyter client (jupyter_client), the way a notebook front end drives it.

./loupe test runs this with JUPYTER_PATH pointing at a "loupe" kernelspec with a small heap (-Xmx256m), so that
running out of memory is quick. Every wait is bounded; every test that hurts the kernel checks the next cell works.
"""
import gc
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import zipfile
from queue import Empty

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Cell:
    """What one execute request produced: the shell reply and the IOPub messages, each with its arrival time."""

    def __init__(self, reply, messages, finished):
        self.reply = reply
        self.messages = messages
        self.finished = finished

    @property
    def status(self):
        return self.reply["status"]

    def of_type(self, msg_type):
        return [content for _, t, content in self.messages if t == msg_type]

    @property
    def stdout(self):
        return "".join(c["text"] for c in self.of_type("stream") if c["name"] == "stdout")

    @property
    def result(self):
        results = self.of_type("execute_result")
        return results[0]["data"] if results else None

    @property
    def traceback(self):
        errors = self.of_type("error")
        return ANSI.sub("", "\n".join(errors[0]["traceback"])) if errors else ""


class KernelTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.km = KernelManager(kernel_name="loupe")
        cls.km.start_kernel()
        cls.kc = cls.km.client()
        cls.kc.start_channels()
        cls.kc.wait_for_ready(timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=False)
        cls.kc = cls.km = None
        gc.collect()

    def start(self, code):
        return self.kc.execute(code)

    def finish(self, msg_id, timeout=60):
        """Collects the IOPub messages of a request until the kernel is idle again, then its shell reply."""
        deadline = time.monotonic() + timeout
        messages = []
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                self.fail(f"no reply within {timeout} s; so far: {messages}")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append((time.monotonic(), msg["msg_type"], msg["content"]))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        finished = time.monotonic()
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return Cell(reply["content"], messages, finished)

    def run_cell(self, code, timeout=60):
        return self.finish(self.start(code), timeout)

    def wait_until_busy(self, msg_id, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
                return
        self.fail("the cell did not start")

    def assert_next_cell_works(self):
        cell = self.run_cell("6 * 7")
        self.assertEqual("ok", cell.status, cell.traceback)
        self.assertEqual("42", cell.result["text/plain"])

    def assert_interrupted(self, msg_id, interrupt, within=5):
        asked = time.monotonic()
        interrupt()
        cell = self.finish(msg_id, timeout=30)
        self.assertLess(cell.finished - asked, within, "the cell stopped too late")
        self.assertEqual("error", cell.status)
        self.assertEqual("Interrupted", cell.reply["ename"])
        self.assertTrue(self.km.is_alive())
        self.assert_next_cell_works()

    # --- errors ---

    def test_exception_shows_user_frames_and_cause_then_next_cell_works(self):
        cell = self.run_cell('void check(int n) {\n'
                             '    if (n > 1) throw new IllegalStateException("too big: " + n,\n'
                             '        new java.io.IOException("the cause"));\n'
                             '}\n'
                             'check(1);\n'
                             'check(2);')
        self.assertEqual("error", cell.status)
        self.assertEqual("IllegalStateException", cell.reply["ename"])
        self.assertEqual("too big: 2", cell.reply["evalue"])
        tb = cell.traceback
        self.assertIn("java.lang.IllegalStateException: too big: 2", tb)
        self.assertRegex(tb, r"at check \(Cell In\[\d+\], line 2\)")
        self.assertRegex(tb, r"at Cell In\[\d+\], line 6")
        self.assertIn("Caused by: java.io.IOException: the cause", tb)
        self.assertNotIn("jdk.jshell", tb)
        self.assertNotIn("dev.loupe.kernel", tb)
        self.assert_next_cell_works()

    def test_compile_error_names_the_line_then_next_cell_works(self):
        cell = self.run_cell('int fine = 1;\nString s = fine;')
        self.assertEqual("error", cell.status)
        self.assertEqual("CompileError", cell.reply["ename"])
        self.assertIn("incompatible types", cell.reply["evalue"])
        self.assertRegex(cell.traceback, r"Cell In\[\d+\], line 2")
        self.assertIn("String s = fine;", cell.traceback)
        self.assertNotIn("$JShell", cell.traceback)
        self.assert_next_cell_works()

    def test_allocation_past_the_heap_is_an_error_then_next_cell_works(self):
        max_mb = int(self.run_cell("Runtime.getRuntime().maxMemory() >> 20").result["text/plain"])
        self.assertLess(max_mb, 1024, "this test expects a kernelspec with a small -Xmx, as ./loupe test installs")
        for code in ["new long[1_500_000_000]",
                     "{ var chunks = new java.util.ArrayList<long[]>(); while (true) chunks.add(new long[1 << 20]); }"]:
            cell = self.run_cell(code)
            self.assertEqual("error", cell.status)
            self.assertEqual("OutOfMemoryError", cell.reply["ename"])
            self.assertIn("LOUPE_KERNEL_XMX", cell.traceback)
            self.assertTrue(self.km.is_alive())
            self.assert_next_cell_works()

    def test_work_over_the_memory_budget_is_refused_naming_it_then_next_cell_works(self):
        cell = self.run_cell(
            'System.setProperty("loupe.memoryBudget", "1k");\n'
            'try {\n'
            '    var m = HookedTransformer.create(ModelConfig.builder().nLayers(2).dModel(16).nHeads(2).dVocab(50).nCtx(8).build(), 0);\n'
            '    var t = Tensors.tokens(1, 2, 3, 4);\n'
            '    Patching.residPre(m, t, m.runWithCache(t), Metrics.logitDiff(new int[] {5}, new int[] {6}));\n'
            '} finally {\n'
            '    System.clearProperty("loupe.memoryBudget");\n'
            '}', timeout=120)
        self.assertEqual("error", cell.status)
        self.assertEqual("MemoryBudgetException", cell.reply["ename"])
        self.assertIn("over the memory budget of 1024 bytes (set by -Dloupe.memoryBudget)", cell.traceback)
        self.assertIn("LOUPE_MEMORY_BUDGET", cell.traceback)
        self.assertTrue(self.km.is_alive())
        self.assert_next_cell_works()

    # --- interrupt ---

    def test_interrupt_stops_a_tight_loop(self):
        msg_id = self.start("while (true) {}")
        self.wait_until_busy(msg_id)
        time.sleep(0.5)
        self.assert_interrupted(msg_id, self.km.interrupt_kernel)

    def test_interrupt_stops_a_training_loop(self):
        msg_id = self.start('try (NDManager m = NDManager.newBaseManager()) {\n'
                            '    NDArray w = m.randomNormal(new Shape(64, 64));\n'
                            '    System.out.println("training");\n'
                            '    for (int step = 0; ; step++) {\n'
                            '        try (NDManager s = m.newSubManager()) {\n'
                            '            NDArray x = s.randomNormal(new Shape(128, 64));\n'
                            '            w.subi(x.matMul(w).mean().mul(1e-3));\n'
                            '        }\n'
                            '    }\n'
                            '}')
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the loop is running once it has printed
            msg = self.kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                break
        time.sleep(0.5)
        self.assert_interrupted(msg_id, self.km.interrupt_kernel)

    def test_sigint_interrupts_the_cell_and_the_kernel_lives(self):
        msg_id = self.start("for (long i = 0; ; i++) { Math.sqrt(i); }")
        self.wait_until_busy(msg_id)
        time.sleep(0.5)
        self.assert_interrupted(msg_id, lambda: self.km.signal_kernel(signal.SIGINT))

    # --- output ---

    def test_stdout_streams_while_the_cell_runs(self):
        cell = self.run_cell('System.out.println("first");\nThread.sleep(2000);\nSystem.out.println("second");')
        self.assertEqual("ok", cell.status)
        streams = [(t, c["text"]) for t, kind, c in cell.messages if kind == "stream"]
        first = next(t for t, text in streams if "first" in text)
        self.assertGreater(cell.finished - first, 1.5, "'first' should arrive before the cell ends")
        self.assertEqual("first\nsecond\n", cell.stdout)

    def test_output_of_threads_the_cell_starts(self):
        cell = self.run_cell('Thread t = new Thread(() -> System.out.println("from a thread"));\n'
                             't.start();\nt.join();\nSystem.err.println("to stderr");')
        self.assertIn("from a thread", cell.stdout)
        self.assertIn("to stderr", "".join(c["text"] for c in cell.of_type("stream") if c["name"] == "stderr"))

    def test_a_thread_of_an_ended_cell_writes_nothing_into_the_next_cell(self):
        started = self.run_cell('var ticking = new java.util.concurrent.atomic.AtomicBoolean(true);\n'
                                'Thread ticker = new Thread(() -> {\n'
                                '    for (int i = 0; i < 200 && ticking.get(); i++) {\n'
                                '        System.out.print("tick ");\n'
                                '        System.err.print("tock ");\n'
                                '        if (i % 10 == 0) display("tick " + i);\n'
                                '        try { Thread.sleep(10); } catch (InterruptedException e) { return; }\n'
                                '    }\n'
                                '});\n'
                                'ticker.setDaemon(true);\n'
                                'ticker.start();')
        self.assertEqual("ok", started.status, started.traceback)
        try:
            cell = self.run_cell('Thread.sleep(300);\nSystem.out.println("B");')
        finally:
            self.run_cell("ticking.set(false);\nticker.join();")
        outputs = [(kind, c.get("name"), c.get("text", c.get("data"))) for _, kind, c in cell.messages
                   if kind in ("stream", "display_data", "update_display_data")]
        self.assertEqual([("stream", "stdout", "B\n")], outputs)

    def test_parallel_stream_output_belongs_to_the_cell_that_runs_it(self):
        cell = self.run_cell('java.util.stream.IntStream.range(0, 8).parallel().forEach(i -> System.out.println("p" + i));')
        self.assertEqual([f"p{i}" for i in range(8)], sorted(cell.stdout.split()))

    def test_displayable_result_has_html_and_plain_text(self):
        cell = self.run_cell('new Displayable() {\n'
                             '    public MimeBundle mimeBundle() {\n'
                             '        return MimeBundle.text("a plain view").withHtml("<b>an html view</b>");\n'
                             '    }\n'
                             '}')
        self.assertEqual("ok", cell.status, cell.traceback)
        self.assertEqual("a plain view", cell.result["text/plain"])
        self.assertEqual("<b>an html view</b>", cell.result["text/html"])

    def test_display_update_replaces_the_output_in_place(self):
        cell = self.run_cell('String id = display("step 0");\n'
                             'for (int i = 1; i <= 3; i++) Display.update(id, "step " + i);')
        self.assertEqual("ok", cell.status, cell.traceback)
        shown = cell.of_type("display_data")
        self.assertEqual(1, len(shown))
        display_id = shown[0]["transient"]["display_id"]
        self.assertEqual("step 0", shown[0]["data"]["text/plain"])
        updates = cell.of_type("update_display_data")
        self.assertEqual(["step 1", "step 2", "step 3"], [u["data"]["text/plain"] for u in updates])
        self.assertTrue(all(u["transient"]["display_id"] == display_id for u in updates))

    # --- the environment ---

    def test_cells_have_jshells_default_imports(self):
        cell = self.run_cell('List.of(1)')
        self.assertEqual("ok", cell.status, cell.traceback)
        self.assertEqual("[1]", cell.result["text/plain"])
        cell = self.run_cell('List.of(Path.of("a"), Pattern.compile("b"), BigInteger.TWO, TimeUnit.SECONDS)')
        self.assertEqual("ok", cell.status, cell.traceback)
        self.assertEqual("[a, b, 2, SECONDS]", cell.result["text/plain"])

    # --- completion, inspection, is_complete ---

    def test_completion_offers_members(self):
        code = "int answer = 42;\nSystem.out.pri"
        reply = self.kc.complete(code, len(code), reply=True, timeout=30)["content"]
        self.assertEqual("ok", reply["status"])
        self.assertIn("println(", reply["matches"])
        self.assertEqual(len(code) - len("pri"), reply["cursor_start"])
        self.assertEqual(len(code), reply["cursor_end"])

    def test_inspect_shows_the_signature(self):
        code = "Math.max(1, 2)"
        reply = self.kc.inspect(code, len("Math.ma"), reply=True, timeout=30)["content"]
        self.assertTrue(reply["found"])
        self.assertIn("int Math.max(int a, int b)", reply["data"]["text/plain"])

    def test_inspect_shows_loupes_javadoc(self):
        code = "HookedTransformer.fromPretrained"
        reply = self.kc.inspect(code, len(code), reply=True, timeout=30)["content"]
        self.assertTrue(reply["found"])
        self.assertIn("HookedTransformer.fromPretrained(String name)", reply["data"]["text/plain"])
        self.assertIn("Hugging Face", reply["data"]["text/plain"])

    def test_is_complete(self):
        def status(code):
            msg_id = self.kc.is_complete(code)
            while True:
                reply = self.kc.get_shell_msg(timeout=30)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply["content"]["status"]
        self.assertEqual("complete", status("int x = 1;"))
        self.assertEqual("incomplete", status("for (int i = 0; i < 3; i++) {"))

    def test_language_info_names_the_feature_version_only(self):
        # Notebook saves language_info into each notebook and marks an opened one changed when it differs, so it must
        # not change with the JDK's update release: it is java.specification.version, as the JVM itself reports it.
        java = next(a for a in KernelSpecManager().get_kernel_spec("loupe").argv if os.path.basename(a) == "java")
        settings = subprocess.run([java, "-XshowSettings:properties", "-version"], capture_output=True, text=True)
        expected = re.search(r"java\.specification\.version = (\S+)", settings.stderr).group(1)
        info = self.kc.kernel_info(reply=True, timeout=30)["content"]["language_info"]
        self.assertEqual(expected, info["version"])

    # --- magics ---

    def test_maven_resolves_from_the_local_repository_offline(self):
        with open(os.path.join(ROOT, "pom.xml")) as f:
            junit = re.search(r"<junit.version>(.+?)</junit.version>", f.read()).group(1)
        cell = self.run_cell(f"%maven org.junit.jupiter:junit-jupiter-api:{junit}\n"
                             "org.junit.jupiter.api.Assertions.class.getSimpleName()", timeout=120)
        self.assertEqual("ok", cell.status, cell.traceback)
        self.assertIn("junit-jupiter-api", cell.stdout)
        self.assertNotIn("fetching", cell.stdout)  # the offline attempt was enough
        self.assertEqual("Assertions", cell.result["text/plain"])

    def test_classpath_adds_jars_by_glob_and_class_folders(self):
        java = next(a for a in KernelSpecManager().get_kernel_spec("loupe").argv if os.path.basename(a) == "java")
        javac = os.path.join(os.path.dirname(java), "javac")
        tmp = tempfile.mkdtemp()
        try:
            for name in ("jarred", "foldered"):
                src = os.path.join(tmp, name, "demo", name.capitalize() + ".java")
                os.makedirs(os.path.dirname(src))
                with open(src, "w") as f:
                    f.write(f"package demo; public class {name.capitalize()} "
                            f"{{ public static String hello() {{ return \"hello from {name}\"; }} }}")
                subprocess.run([javac if os.path.exists(javac) else "javac", src], check=True, timeout=120)
            with zipfile.ZipFile(os.path.join(tmp, "jarred", "demo.jar"), "w") as jar:
                jar.write(os.path.join(tmp, "jarred", "demo", "Jarred.class"), "demo/Jarred.class")
            os.remove(os.path.join(tmp, "jarred", "demo", "Jarred.class"))
            cell = self.run_cell(f"%classpath {tmp}/jarred/*.jar\n%jars {tmp}/foldered\n"
                                 "demo.Jarred.hello() + \", \" + demo.Foldered.hello()")
            self.assertEqual("ok", cell.status, cell.traceback)
            self.assertEqual("hello from jarred, hello from foldered", cell.result["text/plain"])
            missing = self.run_cell(f"%classpath {tmp}/nothing-here.jar")
            self.assertEqual("error", missing.status)
            self.assertIn("nothing matches", missing.reply["evalue"])
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
