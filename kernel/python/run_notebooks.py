"""Executes notebooks headless with the Loupe kernel (./loupe run, ./loupe test).

Each notebook runs in its own folder (so relative paths in it work) on a fresh kernel. The executed notebook is
written back in place, or under --output-dir; --html also writes NB.html beside it. A failing cell is named, with
its error, and makes the exit status non-zero; the last line is "notebooks: N passed, M failed". Each notebook's wall
time, the kernel's peak resident memory (VmHWM, read as each code cell completes) and its slowest cell are printed.

A notebook is written as classic Notebook would save it (so opening it there does not mark it changed) and signed as
trusted, as Notebook signs what it saves: its outputs are this user's own run.
"""
import argparse
import os
import re
import sys
import time
import traceback

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat.sign import NotebookNotary

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Classic Notebook's output area (outputarea.js, append_stream) merges a stream output into the one before it, of the
# same stream, while that holds at most this many characters (stream_chunk_size); its text then goes through
# utils.fixOverwrittenChars, whose regular expressions are JavaScript's: "." and multiline ^ $ stop at \r too.
STREAM_CHUNK = 8192
JS_LINE_END = "\n\r\u2028\u2029"
JS_DOT = f"[^{JS_LINE_END}]"


class Usage:
    """The kernel's peak resident memory and the slowest cell, read as each code cell completes."""

    def __init__(self):
        self.peak_rss = None
        self.slowest = (0.0, None)
        self.started = None

    def cell_started(self):
        self.started = time.monotonic()

    def cell_completed(self, client, cell_index):
        seconds = time.monotonic() - self.started
        if seconds > self.slowest[0]:
            self.slowest = (seconds, cell_index)
        rss = peak_rss(kernel_pid(client))
        if rss is not None:
            self.peak_rss = max(rss, self.peak_rss or 0)


def kernel_pid(client):
    """jupyter_client 7 and later keep the kernel's process id in its provisioner; older ones in km.kernel."""
    provisioner = getattr(client.km, "provisioner", None)
    if getattr(provisioner, "pid", None):
        return provisioner.pid
    return getattr(getattr(client.km, "kernel", None), "pid", None)


def peak_rss(pid):
    """VmHWM, the most resident memory the process has had, in bytes; None where /proc cannot say."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, TypeError, ValueError):
        pass
    return None


def execute(path, timeout):
    """Runs the notebook; returns it with outputs, a description of the failure or None, and the kernel's Usage."""
    nb = nbformat.read(path, as_version=4)
    current = {"index": None}
    usage = Usage()

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index

    # on_cell_execute and on_cell_executed bracket the code cell's run (nbclient 0.7's on_cell_complete comes as soon
    # as the cell is sent).
    def on_cell_execute(cell, cell_index):
        usage.cell_started()

    def on_cell_executed(cell, cell_index, execute_reply):
        usage.cell_completed(client, cell_index)

    # No execution timestamps in cell metadata: they would change the file on every run.
    client = NotebookClient(nb, timeout=timeout, startup_timeout=120, kernel_name="loupe", record_timing=False,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
                            on_cell_start=on_cell_start, on_cell_execute=on_cell_execute,
                            on_cell_executed=on_cell_executed)
    try:
        client.execute()
        return nb, None, usage
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        return nb, describe(nb, current["index"], e), usage


def summary(path, seconds, nb, usage):
    """One line: wall time, the kernel's peak RSS and the slowest cell."""
    line = f"loupe: {path}: {seconds:.0f} s"
    if usage is not None and usage.peak_rss is not None:
        line += f", peak RSS {usage.peak_rss / 1e9:.1f} GB"
    if usage is not None and usage.slowest[1] is not None and nb is not None:
        index = usage.slowest[1]
        line += f", slowest cell {index} ({first_line(nb.cells[index])[:60]}) {usage.slowest[0]:.0f} s"
    return line


def first_line(cell):
    return (cell.source.strip().splitlines() or [""])[0]


def describe(nb, index, error):
    if index is None:
        return f"the kernel did not start: {error}"
    cell = nb.cells[index]
    lines = [f"cell {index} (In [{cell.get('execution_count') or ' '}]: {first_line(cell)}) failed"]
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        lines += [ANSI.sub("", line) for line in errors[0].get("traceback", [])]
    else:
        lines.append(ANSI.sub("", str(error)).strip())
    return "\n".join(lines)


def as_notebook_saves(nb):
    """Puts the executed notebook in the form classic Notebook saves after opening it: the kernelspec of the kernel that
    ran it, stream outputs merged as its output area merges them, and no timing metadata from earlier runs."""
    spec = KernelSpecManager().get_kernel_spec("loupe")
    nb.metadata.kernelspec = {"display_name": spec.display_name, "language": spec.language, "name": "loupe"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)


def merge_streams(outputs):
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if out.output_type == "stream" and last is not None and last.output_type == "stream" and last.name == out.name:
            if js_length(last.text) <= STREAM_CHUNK:
                last.text = fix_overwritten_chars(last.text + out.text)
                continue
            # A long block is not extended: its unfinished last line moves to the new output.
            cut = last.text.rfind("\n")
            if cut != -1:
                out.text = last.text[cut + 1:] + out.text
                last.text = last.text[:cut + 1]
        merged.append(out)
    return merged


def js_length(text):
    return len(text.encode("utf-16-le")) // 2


def fix_overwritten_chars(text):
    """utils.fixOverwrittenChars: characters erased by backspaces, then line parts overwritten after carriage returns."""
    while True:
        erased = re.sub(r"[^\n]\x08", "", text)
        if len(erased) == len(text):
            break
        text = erased
    text = re.sub(r"\r+\n", "\n", text)
    while re.search(r"\r[^$]", text):
        base = re.search(f"(?:^|(?<=[{JS_LINE_END}]))({JS_DOT}*)\r+", text).group(1)
        insert = re.search(f"\r+({JS_DOT}*)", text).group(1)
        insert += base[len(insert):]
        text = re.sub(f"\r+{JS_DOT}*", "\r", text, count=1)
        text = re.sub(f"(?:^|(?<=[{JS_LINE_END}])){JS_DOT}*\r", lambda _: insert, text, count=1)
    return text


def write_html(nb, html_path):
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_notebook_node(nb)
    with open(html_path, "w", encoding="utf-8") as f:
        f.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds one cell may run")
    parser.add_argument("--output-dir", help="write executed notebooks here instead of in place")
    parser.add_argument("--html", action="store_true", help="also write NB.html beside each executed notebook")
    args = parser.parse_args()

    passed, failed = 0, []
    common = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in args.notebooks] or ["."])
    for path in args.notebooks:
        print(f"loupe: running {path}", file=sys.stderr, flush=True)
        start = time.monotonic()
        try:
            nb, failure, usage = execute(path, args.timeout)
        except Exception:
            nb, failure, usage = None, traceback.format_exc(), None
        print(summary(path, time.monotonic() - start, nb, usage), file=sys.stderr, flush=True)
        if failure:
            failed.append(path)
            print(f"loupe: {path}: {failure}", file=sys.stderr, flush=True)
            continue
        out = path
        if args.output_dir:
            out = os.path.join(args.output_dir, os.path.relpath(os.path.abspath(path), common))
            os.makedirs(os.path.dirname(out), exist_ok=True)
        as_notebook_saves(nb)
        nbformat.write(nb, out)
        NotebookNotary().sign(nbformat.read(out, as_version=4))
        if args.html:
            write_html(nb, os.path.splitext(out)[0] + ".html")
        passed += 1

    print(f"notebooks: {passed} passed, {len(failed)} failed")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
