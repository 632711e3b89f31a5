"""Runs the kernel's JVM (the command in the arguments) in this process, with SIGINT at its default disposition.

A process started from a background shell (./loupe test &, nohup) inherits SIGINT ignored, and the JVM leaves an
ignored SIGINT ignored: the kernel's handler would not be installed and SIGINT could not interrupt a cell. Python can
reset the disposition; exec keeps the process, so the signals Jupyter sends it reach the JVM.
"""
import os
import signal
import sys

signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])
