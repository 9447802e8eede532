"""`lmstudio-app`: no arguments opens the window; a command runs headless."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # prepare's encoding workers, in the one-folder bundle
    from .core.util.threads import calm_cpu_threads

    calm_cpu_threads()  # before anything imports torch, for the window and the CLI alike
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("--install-desktop", "--uninstall-desktop"):
        from .desktop_entry import main as desktop_main

        return desktop_main(args)
    if not args:
        # Before any Qt import: a platform plugin that cannot load aborts the process.
        from .gui.platform_check import platform_problem

        problem = platform_problem()
        if problem:
            print(f"error: the window cannot start: {problem}", file=sys.stderr)
            return 2
        from .gui.app import main as gui_main

        return gui_main()
    from .cli.main import main as cli_main

    return cli_main(args)


def _exit(code: int) -> None:
    """End the process with `code`. One of torchrun's processes ends without the interpreter's
    teardown: gloo's threads, destroyed at exit while a peer process is still connected, abort
    the process (SIGABRT) after its work is done, and the launcher would report a crash."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _exit(main())
