"""Installed by `ttport exec` (this folder first on PYTHONPATH): `import ttnn` resolves to ttport's simulator
in this interpreter and in every Python child process. Nothing here is meant to be imported by hand."""

import os
import sys


def _install() -> None:
    try:
        from ttport.compat import hook
    except ImportError as exc:  # a Python without ttport: say so once, and keep real ttnn out of reach
        message = (
            f"ttport exec: this Python ({sys.executable}) cannot import ttport's simulator ({exc}); run the "
            "command with the interpreter ttport is installed in"
        )
        print(message, file=sys.stderr)

        class _Refuse:
            def find_spec(self, fullname, path=None, target=None):
                if fullname.partition(".")[0] in ("ttnn", "tt_lib"):
                    raise ImportError(message)
                return None

        sys.meta_path.insert(0, _Refuse())
        return
    hook.install()


def _chain() -> None:
    """Run the sitecustomize this one shadows (the next one on sys.path), as Python would have."""
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        candidate = os.path.join(entry or os.getcwd(), "sitecustomize.py")
        if os.path.abspath(entry or os.getcwd()) != here and os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as f:
                code = compile(f.read(), candidate, "exec")
            exec(code, {"__name__": "sitecustomize", "__file__": candidate})
            return


_install()
_chain()
