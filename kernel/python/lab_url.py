"""Prints the quickstart's address, with the server's token, once ./loupe lab's Jupyter is up: Jupyter's own banner
names only the server. Usage: lab_url.py SERVER_PID NOTEBOOK.

It reads the server's info file in Jupyter's runtime folder (nbserver-PID.json from classic Notebook, jpserver-PID.json
from Jupyter Server, which JupyterLab runs on), waiting while the server runs, at most a minute; it prints nothing
when the notebook is outside the served folder.
"""
import json
import os
import sys
import time
from urllib.parse import quote, urlencode

from jupyter_core.paths import jupyter_runtime_dir

PAGES = {"nbserver": "notebooks", "jpserver": "lab/tree"}  # where each server opens a notebook


def running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def server_info(pid):
    for prefix, page in PAGES.items():
        try:
            with open(os.path.join(jupyter_runtime_dir(), f"{prefix}-{pid}.json")) as f:
                return json.load(f), page
        except (FileNotFoundError, ValueError):  # not there yet, or still being written
            continue
    return None, None


def main():
    pid, notebook = int(sys.argv[1]), os.path.abspath(sys.argv[2])
    deadline = time.monotonic() + 60
    while running(pid) and time.monotonic() < deadline:
        info, page = server_info(pid)
        if info:
            relative = os.path.relpath(notebook, info.get("notebook_dir") or info.get("root_dir"))
            if not relative.startswith(os.pardir):
                token = "?" + urlencode({"token": info["token"]}) if info.get("token") else ""
                url = info["url"] + page + "/" + quote(relative.replace(os.sep, "/")) + token
                print(f"loupe: start with the quickstart: {url}", file=sys.stderr, flush=True)
            return
        time.sleep(0.25)


if __name__ == "__main__":
    main()
