"""Executes notebooks headless with the Loupe kernel (./loupe run, ./loupe test).

Each notebook runs in its own folder (so relative paths in it work) on a fresh kernel. The executed notebook is
written back in place, or under --output-dir; --html also writes NB.html beside it. A failing cell is named, with
its error, and makes the exit status non-zero; the last line is "notebooks: N passed, M failed".
"""
import argparse
import os
import re
import sys
import traceback

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def execute(path, timeout):
    """Runs the notebook; returns it with outputs, and a description of the failure or None."""
    nb = nbformat.read(path, as_version=4)
    current = {"index": None}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index

    client = NotebookClient(nb, timeout=timeout, startup_timeout=120, kernel_name="loupe",
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
                            on_cell_start=on_cell_start)
    try:
        client.execute()
        return nb, None
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        return nb, describe(nb, current["index"], e)


def describe(nb, index, error):
    if index is None:
        return f"the kernel did not start: {error}"
    cell = nb.cells[index]
    first_line = (cell.source.strip().splitlines() or [""])[0]
    lines = [f"cell {index} (In [{cell.get('execution_count') or ' '}]: {first_line}) failed"]
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        lines += [ANSI.sub("", line) for line in errors[0].get("traceback", [])]
    else:
        lines.append(ANSI.sub("", str(error)).strip())
    return "\n".join(lines)


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
        try:
            nb, failure = execute(path, args.timeout)
        except Exception:
            nb, failure = None, traceback.format_exc()
        if failure:
            failed.append(path)
            print(f"loupe: {path}: {failure}", file=sys.stderr, flush=True)
            continue
        out = path
        if args.output_dir:
            out = os.path.join(args.output_dir, os.path.relpath(os.path.abspath(path), common))
            os.makedirs(os.path.dirname(out), exist_ok=True)
        nbformat.write(nb, out)
        if args.html:
            write_html(nb, os.path.splitext(out)[0] + ".html")
        passed += 1

    print(f"notebooks: {passed} passed, {len(failed)} failed")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
