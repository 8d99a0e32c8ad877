"""TAP output for the integration tests: numbered results, diagnostics, plan at the end."""
import sys
import traceback


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.names = []

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            print("# " + line, flush=True)

    def ok(self, cond, desc, diag=None):
        self.n += 1
        desc = desc.replace("#", "\\#").replace("\n", " ")
        if cond:
            print(f"ok {self.n} - {desc}", flush=True)
        else:
            self.failed += 1
            self.names.append(desc)
            print(f"not ok {self.n} - {desc}", flush=True)
            if diag is not None:
                self.diag(diag)
        return bool(cond)

    def eq(self, got, expected, desc, extra=None):
        d = f"expected: {expected!r}\n     got: {got!r}"
        if extra:
            d += "\n" + str(extra)
        return self.ok(got == expected, desc, d)

    def match(self, regex, text, desc):
        import re
        return self.ok(text is not None and re.search(regex, text, re.M) is not None, desc,
                       f"pattern: {regex!r}\n   text: {text!r}")

    def case(self, desc):
        """Context manager: an exception inside the block is one failed result."""
        tap = self

        class _Case:
            def __enter__(self):
                return tap

            def __exit__(self, typ, val, tb):
                if typ is None:
                    return False
                if typ is KeyboardInterrupt:
                    return False
                tap.ok(False, f"{desc}: raised {typ.__name__}",
                       "".join(traceback.format_exception(typ, val, tb)))
                return True
        return _Case()

    def fail_prereq(self, what):
        self.ok(False, f"prerequisite: {what}")

    def finish(self):
        print(f"1..{self.n}", flush=True)
        if self.failed:
            print(f"# {self.failed} of {self.n} failed: " + "; ".join(self.names), file=sys.stderr)
        return 1 if self.failed or self.n == 0 else 0
