"""./loupe lab as a researcher first meets it, in headless Chromium: a fresh clone's lab, the quickstart opened from the
address lab prints, trusted and unchanged on opening, every cell run, and its figures live (plotly and the attention
view), not their static images; the clone's git status stays clean. Also: a folder given to lab replaces the served
root, and ./loupe run merges stream outputs as Notebook's own output area does.

./loupe test runs it after building (it installs Chromium). The clone is of this checkout's HEAD and reuses this
checkout's build (class path and plotly.js) rather than building again; the served folder and the notebook are the
clone's. Chromium is driven through its DevTools protocol over a pipe (--remote-debugging-pipe). Skipped without
Chromium or a build.
"""
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import nbformat

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
QUICKSTART = "notebooks/quickstart.ipynb"

# What the page shows: the notebook's state, and its figures: drawn plotly plots and attention views, fallbacks (a
# figure's own PNG showing, or its note saying why, or an image output Notebook chose over untrusted HTML), errors.
PAGE_STATE = """(function () {
  function all(selector) { return [].slice.call(document.querySelectorAll(selector)); }
  function shown(el) { return getComputedStyle(el).display !== "none"; }
  var nb = Jupyter.notebook;
  return {
    trusted: nb.trusted, dirty: nb.dirty, busy: nb.kernel_busy,
    running: nb.get_cells().filter(function (c) { return c.cell_type === "code" && c.input_prompt_number === "*"; }).length,
    plotly: all(".output_area .js-plotly-plot").filter(function (gd) { return gd.querySelector(".main-svg"); }).length,
    attention: all(".output_area .loupe-attn[data-ready='1']").length,
    fallbacks: all(".loupe-plotly-static, .loupe-attn-static").filter(shown).length + all(".output_png").length
      + all(".loupe-plotly-note").filter(function (n) { return n.textContent; }).length,
    errors: all(".output_error").map(function (e) { return e.textContent.slice(0, 500); })
  };
})()"""


class DevTools:
    """Chromium's DevTools protocol over the pipe Chromium reads on fd 3 and writes on fd 4, messages ending in NUL."""

    def __init__(self, chromium, profile):
        to_chromium, self.to_chromium = os.pipe()
        self.from_chromium, from_chromium = os.pipe()
        # Chromium reads fd 3 and writes fd 4; the pipe's ends must not be 3 or 4 themselves, or the shell's
        # redirections below would overwrite one with the other (they are when few files are open).
        to_chromium, from_chromium = (self.high_fd(fd) for fd in (to_chromium, from_chromium))
        self.process = subprocess.Popen(
            # bash, not sh: dash reads at most one digit in a redirection's descriptor
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_chromium} 4>&{from_chromium}', chromium, "--headless", "--no-sandbox",
             "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-background-networking",
             "--disable-component-update", "--user-data-dir=" + profile, "--remote-debugging-pipe",
             # only loopback (which bypasses a proxy) is reachable
             "--proxy-server=127.0.0.1:9", "about:blank"],
            pass_fds=(to_chromium, from_chromium), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chromium)
        os.close(from_chromium)
        self.buffer = b""
        self.last_id = 0
        self.session = None

    @staticmethod
    def high_fd(fd):
        """The same file at a descriptor of 10 or more; the original is closed."""
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def call(self, method, session=None, timeout=30, **params):
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_chromium, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.last_id:  # else an event, or a reply to an earlier call
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]
            readable, _, _ = select.select([self.from_chromium], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                raise TimeoutError(f"Chromium did not answer {method} within {timeout} s")
            chunk = os.read(self.from_chromium, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buffer += chunk

    def open(self, url):
        target = self.call("Target.createTarget", url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def evaluate(self, expression, timeout=30):
        """The expression's value in the page (a promise's, once settled), as JSON."""
        result = self.call("Runtime.evaluate", session=self.session, timeout=timeout, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, until, timeout, what):
        """Evaluates the expression until its value meets `until` (a page still loading has no context to evaluate in
        yet), and returns that value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError as e:
                if "context" not in str(e):
                    raise
            if value is not None and until(value):
                return value
            time.sleep(0.5)
        raise AssertionError(f"{what}: not within {timeout} s; last {value}")

    def close(self):
        self.process.kill()
        self.process.wait()
        os.close(self.to_chromium)
        os.close(self.from_chromium)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(CHROMIUM and os.path.exists(os.path.join(ROOT, "target", "classpath.txt")),
                     "needs Chromium and a build (./loupe test has both)")
class LabBrowserTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="loupe-lab-")
        cls.clone = os.path.join(cls.tmp, "clone")
        cls.lab = cls.browser = None
        try:
            head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
            subprocess.run(["git", "clone", "--quiet", "--shared", "--no-checkout", ROOT, cls.clone], check=True)
            subprocess.run(["git", "-C", cls.clone, "checkout", "--quiet", "--detach", head.stdout.strip()], check=True)
            # This checkout's build, written after the clone's sources so that ./loupe takes it as up to date.
            os.makedirs(os.path.join(cls.clone, "lib", "target"))
            for built in ("classes", "npm"):
                os.symlink(os.path.join(ROOT, "lib", "target", built), os.path.join(cls.clone, "lib", "target", built))
            os.makedirs(os.path.join(cls.clone, "target"))
            shutil.copy(os.path.join(ROOT, "target", "classpath.txt"), os.path.join(cls.clone, "target"))
            started = time.monotonic()
            cls.lab, log = cls.launch_lab()
            cls.quickstart_url = cls.wait_for_line(cls.lab, log, r"loupe: start with the quickstart: (\S+)")
            cls.lab_seconds = time.monotonic() - started
            cls.browser = DevTools(CHROMIUM, os.path.join(cls.tmp, "profile"))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.browser:
            cls.browser.close()
        if cls.lab:
            cls.stop_lab(cls.lab)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def launch_lab(cls, *args):
        """./loupe lab ARGS from outside the clone, with Jupyter settings of its own (no trusted notebooks yet);
        returns the process and the path of its log."""
        env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH")}
        env.update(JUPYTER_DATA_DIR=os.path.join(cls.tmp, "data"), JUPYTER_CONFIG_DIR=os.path.join(cls.tmp, "config"))
        fd, log_path = tempfile.mkstemp(prefix="lab-", suffix=".log", dir=cls.tmp)
        with os.fdopen(fd, "w") as log:
            lab = subprocess.Popen([os.path.join(cls.clone, "loupe"), "lab", "--ip=127.0.0.1", f"--port={free_port()}",
                                    "--port-retries=0", "--no-browser", *args], cwd=cls.tmp, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        return lab, log_path

    @staticmethod
    def wait_for_line(lab, log_path, pattern):
        """The first group of the pattern once the log has it."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and lab.poll() is None:
            with open(log_path) as f:
                found = re.search(pattern, f.read())
            if found:
                return found.group(1)
            time.sleep(0.5)
        with open(log_path) as f:
            raise AssertionError(f"./loupe lab printed nothing like {pattern}:\n{f.read()[-3000:]}")

    @staticmethod
    def stop_lab(lab):
        """Notebook shuts its kernels down on SIGTERM; whatever is left of its process group is killed."""
        if lab.poll() is None:
            lab.send_signal(signal.SIGTERM)
            try:
                lab.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(lab.pid, signal.SIGKILL)
                lab.wait()

    def git_status(self):
        return subprocess.run(["git", "-C", self.clone, "status", "--porcelain"], capture_output=True, text=True,
                              check=True).stdout

    def open_notebook(self, url):
        self.browser.open(url)
        # The kernel's info reply (an empty object until it comes) is when Notebook compares its language_info.
        self.browser.wait_for("!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded"
                              " && Jupyter.notebook.kernel && Jupyter.notebook.kernel.info_reply.language_info)",
                              bool, 120, "the kernel is ready")

    def test_quickstart_opens_trusted_unchanged_and_runs_with_live_figures(self):
        started = time.monotonic()
        self.assertIn("/notebooks/" + QUICKSTART + "?token=", self.quickstart_url)
        with open(os.path.join(self.clone, QUICKSTART)) as f:
            committed = json.load(f)
        html = ["".join(o.get("data", {}).get("text/html", "")) for c in committed["cells"] for o in c.get("outputs", [])]
        plots = sum('class="loupe-plotly"' in h for h in html)
        views = sum('class="loupe-attn"' in h for h in html)
        self.assertGreater(plots, 0, "the quickstart has a plotly figure")

        def all_drawn(state):
            return state["plotly"] == plots and state["attention"] == views

        self.open_notebook(self.quickstart_url)
        opened = self.browser.wait_for(PAGE_STATE, all_drawn, 30, "the committed figures are drawn live")
        self.assertTrue(opened["trusted"], opened)
        self.assertFalse(opened["dirty"], f"opening marked the notebook changed: {opened}")
        self.assertEqual(0, opened["fallbacks"], opened)
        # What Notebook saves is what was committed.
        self.browser.evaluate("Jupyter.notebook.save_notebook().then(function () { return true; })")
        self.assertEqual("", self.git_status(), "saving the notebook just opened changed the clone")

        self.browser.evaluate("Jupyter.notebook.execute_all_cells(), true")
        ran = self.browser.wait_for(PAGE_STATE, lambda state: not state["running"] and not state["busy"], 120,
                                    "every cell ran")
        self.assertEqual([], ran["errors"])
        ran = self.browser.wait_for(PAGE_STATE, all_drawn, 30, "the new figures are drawn live")
        self.assertEqual(0, ran["fallbacks"], ran)
        self.assertEqual(committed["metadata"], self.browser.evaluate("Jupyter.notebook.toJSON().metadata"),
                         "running the notebook changed its metadata")
        self.assertEqual("", self.git_status(), "the clone changed")
        print(f"\n  lab printed the address in {self.lab_seconds:.0f} s; the quickstart opened and ran in"
              f" {time.monotonic() - started:.0f} s", end=" ", flush=True)

    def test_a_folder_given_replaces_the_served_root(self):
        tutorials = os.path.join(self.clone, "tutorials")
        for args in (["--notebook-dir=" + tutorials], [tutorials]):
            lab, log = self.launch_lab(*args)
            try:
                served = self.wait_for_line(lab, log, r"Serving notebooks from local directory: (\S+)")
            finally:
                self.stop_lab(lab)
            self.assertEqual(tutorials, served, args)

    def test_run_merges_streams_as_notebook_does(self):
        """./loupe run merges stream outputs (run_notebooks.merge_streams) as Notebook's own output area does."""
        sys.path.insert(0, os.path.join(ROOT, "kernel", "python"))
        from run_notebooks import merge_streams
        texts = [("stdout", "loss 1.0\n"), ("stdout", "loss 0.5\n"), ("stderr", "warning\n"), ("stdout", "10%\r20%"),
                 ("stdout", "\r30%\n"), ("stdout", "abc\b\bd\n"), ("stdout", "y" * 8100 + "\n"), ("stdout", "more\n"),
                 ("stdout", "x" * 9000 + "\nunfinished"), ("stdout", " line\n"), ("stdout", "next\n"), ("stderr", "\r\n")]
        outputs = [nbformat.v4.new_output("stream", name=name, text=text) for name, text in texts]
        self.open_notebook(self.quickstart_url.replace("quickstart.ipynb", "template.ipynb"))
        notebook = self.browser.evaluate(f"""(function () {{
  var area = new (require("notebook/js/outputarea").OutputArea)({{config: Jupyter.notebook.config, selector: $("<div/>"),
    prompt_area: false, events: $([]), keyboard_manager: Jupyter.keyboard_manager}});
  area.fromJSON({json.dumps(outputs)});
  return area.toJSON();
}})()""")
        self.assertEqual(notebook, json.loads(json.dumps(merge_streams(outputs))))


if __name__ == "__main__":
    unittest.main()
