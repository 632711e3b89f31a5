"""The Jupyter project's kernel conformance suite (jupyter_kernel_test) run against the Loupe kernel.

Every reply is checked against the messaging protocol's schema; the samples below are what each of its tests runs.
./loupe test runs this with JUPYTER_PATH pointing at a "loupe" kernelspec, like test_kernel.py.
"""
import unittest

import jupyter_kernel_test


class LoupeKernelConformance(jupyter_kernel_test.KernelTests):
    kernel_name = "loupe"
    language_name = "java"
    file_extension = ".jshell"

    code_hello_world = 'System.out.println("hello, world");'
    code_stderr = 'System.err.println("to stderr");'
    code_generate_error = 'throw new IllegalStateException("on purpose");'

    # List.of needs JShell's default imports, as in ./loupe jshell.
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "List.of(1, 2)", "result": "[1, 2]"},
        {"code": 'MimeBundle.text("plain").withHtml("<b>html</b>")', "mime": "text/html", "result": "<b>html</b>"},
    ]
    code_display_data = [
        {"code": 'String shown = display("shown now");', "mime": "text/plain"},
        {"code": 'String shown = display(MimeBundle.text("plain").withHtml("<i>html</i>"));', "mime": "text/html"},
    ]

    completion_samples = [
        {"text": "System.out.prin", "matches": {"print(", "printf(", "println("}},
        {"text": "List.o", "matches": {"of("}},
    ]
    code_inspect_sample = "Math.max"

    complete_code_samples = ["6 * 7", "int x = 1;", 'System.out.println("a");\nint y = 2;', "class A {}", "%maven a:b:1"]
    incomplete_code_samples = ["for (int i = 0; i < 3; i++) {", "int z = (1 +", "class B {\n    void f() {"]
    invalid_code_samples = ["int x = 1;)", "}"]

    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "List.of(*"

    @unittest.skip("no pager: help is inspection (Shift-Tab), the kernel sends no pager payloads")
    def test_pager(self):
        pass

    @unittest.skip("no clear_output: Display replaces an output in place by its id (Display.update) instead")
    def test_clear_output(self):
        pass


if __name__ == "__main__":
    unittest.main()
