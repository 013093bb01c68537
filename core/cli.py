"""`ttport list`, `ttport run`, `ttport compare` and `ttport exec`: the command line of the project.

exit codes:
  0  every component passed (compare: no regression)
  1  a component failed (its PCC is below the threshold, or the port raised; compare: a regression)
  2  bad input, refused before the expensive work where it can be: unknown model, preset, board or
     backend; --seed out of range; a --json destination that cannot be written; a --report path that
     is a file; a missing or unusable checkpoint; an unusable TTPORT_CACHE; a device that cannot be
     opened; a file that is not a run report (compare) (one line on stderr)
  3  internal error: a bug in ttport or in a port (one line on stderr; the traceback with --verbose)
  130 interrupted (Ctrl-C)
  (`ttport exec` returns its command's own exit code)
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ttport import backend
from ttport.errors import UserError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def one_line(exc: BaseException) -> str:
    """An error message on one line (transformers' and ttnn's messages span several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def quiet_libraries() -> None:
    """transformers' LOAD REPORT table, warnings and progress bars stay out of stderr (see --verbose)."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def _parser() -> argparse.ArgumentParser:
    from ttport.sim.boards import BOARDS

    parser = argparse.ArgumentParser(
        prog="ttport",
        description=__doc__.split("\n")[0],
        epilog=__doc__[__doc__.index("exit codes:") :],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show tracebacks of internal errors and transformers' load reports and progress bars",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="registered ports, presets, components and broken plugins")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    run = sub.add_parser(
        "run",
        help="run a port against its reference and report PCC per component",
        epilog=__doc__[__doc__.index("exit codes:") :],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("model")
    run.add_argument("--preset", default="tiny")
    run.add_argument("--backend", choices=backend.BACKENDS, help=f"default: ${backend.ENV_VAR} or sim")
    run.add_argument(
        "--board", choices=sorted(BOARDS), help="simulated board (default: $TTPORT_BOARD or n150)"
    )
    run.add_argument("--weights", type=Path, help="local checkpoint directory (default: random weights)")
    run.add_argument("--seed", type=int, default=0, help="seed of weights and inputs, 0 to 2**32 - 1")
    run.add_argument(
        "--json",
        dest="json_path",
        metavar="FILE",
        help="write the report here ('-': stdout, then the table and progress go to stderr; a file: "
        "atomically; a device or FIFO: directly)",
    )
    run.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help="as ttport --verbose")
    run.add_argument(
        "--perf-csv",
        type=Path,
        metavar="DIR",
        help="simulator: write the op-profiler CSV (ops_perf_results_<timestamp>.csv, for tt-perf-report) here",
    )
    run.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write report.html with its figures (and the ttnn-visualizer files) into DIR",
    )
    compare = sub.add_parser(
        "compare",
        help="what changed between two run reports (--json); exit 1 on a regression beyond the tolerances",
    )
    compare.add_argument("baseline", type=Path, help="report A (the baseline)")
    compare.add_argument("new", type=Path, help="report B (the run to judge)")
    compare.add_argument(
        "--tolerance", type=float, default=0.0, metavar="PCC", help="largest PCC drop accepted (default 0)"
    )
    compare.add_argument(
        "--error-tolerance",
        type=float,
        metavar="FRACTION",
        help="largest relative growth of the relative RMS error accepted (0.1 = +10%%; default: not judged)",
    )
    compare.add_argument(
        "--time-tolerance",
        type=float,
        metavar="FRACTION",
        help="largest relative growth of a component's port time accepted (default: not judged)",
    )
    compare.add_argument(
        "--memory-tolerance",
        type=float,
        metavar="FRACTION",
        help="largest relative growth of peak DRAM / L1 accepted (default: not judged)",
    )
    execute = sub.add_parser(
        "exec",
        help="run a command (python, pytest ...) in which `import ttnn` is the simulator",
        description="Run CMD with `import ttnn` / `tt_lib` resolving to the simulator in every Python process it "
        "starts, and tt-metal's model-test fixtures (device, mesh_device, device_params, reset_seeds ...) "
        "available to pytest. The program's files are not touched.",
    )
    execute.add_argument(
        "--board", choices=sorted(BOARDS), help="simulated board (default: $TTPORT_BOARD or n150)"
    )
    execute.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS ...]")
    return parser


def _listing() -> dict[str, Any]:
    from ttport.plugins.registry import load_registry

    registry = load_registry()
    ports = []
    for name, port in sorted(registry.ports.items()):
        ports.append(
            {
                "name": name,
                "plugin": registry.plugin_of[name],
                "description": port.description,
                "mesh_shape": list(port.mesh_shape) if port.mesh_shape else None,
                "preset_meshes": {
                    preset: list(mesh) if (mesh := port.mesh_shape_for(preset)) else None
                    for preset in registry.components[name]
                },
                "presets": {
                    preset: [
                        {"name": c.name, "threshold": float(c.threshold), "metric": c.metric}
                        for c in components
                    ]
                    for preset, components in registry.components[name].items()
                },
            }
        )
    broken = [{"name": b.name, "target": b.target, "error": b.error} for b in registry.broken]
    return {"ports": ports, "broken": broken}


def cmd_list(args: argparse.Namespace) -> int:
    listing = _listing()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    if not listing["ports"]:
        print("no ports registered")
    for port in listing["ports"]:
        mesh = f", mesh {port['mesh_shape'][0]}x{port['mesh_shape'][1]}" if port["mesh_shape"] else ""
        print(f"{port['name']}  (plugin {port['plugin']}{mesh})  {port['description']}".rstrip())
        for preset, components in port["presets"].items():
            names = ", ".join(f"{c['name']} >= {c['threshold']:g}" for c in components)
            own = port["preset_meshes"][preset]
            on = f" (mesh {own[0]}x{own[1]})" if own and own != port["mesh_shape"] else ""
            print(f"  {preset}{on}: {names}")
    for b in listing["broken"]:
        print(f"BROKEN plugin {b['name']} ({b['target']}): {b['error']}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ttport import device, weights
    from ttport.plugins.registry import load_registry
    from ttport.progress import for_stream
    from ttport.report import format_table, write_json
    from ttport.runner import check_seed, run_port
    from ttport.safe_write import check_destination

    json_to_stdout = args.json_path == "-"
    # with --json -, stdout carries the JSON alone: everything a person reads goes to stderr, as lines;
    # otherwise progress and the table go to stdout, so stderr carries nothing but errors
    human = sys.stderr if json_to_stdout else sys.stdout

    def say(line: str) -> None:
        print(line, file=human, flush=True)

    check_seed(args.seed)
    if args.json_path is not None and not json_to_stdout:
        check_destination(args.json_path)
    backend.select_backend(args.backend)
    device.select_board(args.board)
    cache = weights.cache_from_env()
    line = backend.describe()
    if backend.is_simulator():
        line += f", board {device.simulated_board().name}"
    say(line)
    if args.report is not None:
        if args.report.exists() and not args.report.is_dir():
            raise UserError(f"--report needs a directory, and {args.report} is a file")
        check_destination(args.report / "report.html", "--report")
    port = load_registry().get(args.model)
    if args.perf_csv is not None and not backend.is_simulator():
        raise UserError("--perf-csv needs the simulator backend (on a card, use tt-metal's profiler)")

    def step(text: str) -> None:
        say(f"  .. {text}")

    # bars on a terminal; lines in logs, pipes, and whenever stdout belongs to the JSON
    progress = step if json_to_stdout else for_stream(human, step)
    report = run_port(
        port,
        args.preset,
        seed=args.seed,
        weights=args.weights,
        progress=progress,
        cache=cache,
        perf_csv=args.perf_csv,
        layer_trace=args.report is not None,
    )
    say(format_table(report))
    if report.perf_csv:
        say(f"op-profiler CSV written to {report.perf_csv}")
    if json_to_stdout:
        json.dump(report.to_dict(), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        sys.stdout.flush()
    elif args.json_path is not None:
        written = write_json(report, args.json_path)
        say(f"report written to {written}")
    if args.report is not None:
        from ttport.html_report import write_report

        page = write_report(report, args.report)
        say(f"HTML report written to {page}")
        if report.op_records:
            from ttport.visualizer import write_visualizer_folder

            database = write_visualizer_folder(report, args.report)
            say(f"ttnn-visualizer folder written to {args.report} ({database.name}, config.json)")
    return 0 if report.passed else EXIT_FAILED


def cmd_compare(args: argparse.Namespace) -> int:
    from ttport.report_diff import Tolerance, diff_reports, format_diff, load_report

    tolerance = Tolerance(args.tolerance, args.error_tolerance, args.time_tolerance, args.memory_tolerance)
    diff = diff_reports(load_report(args.baseline), load_report(args.new), tolerance)
    print(format_diff(diff))
    return EXIT_FAILED if diff.regressed else 0


def cmd_exec(args: argparse.Namespace) -> int:
    from ttport.compat import execute

    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        raise UserError("exec needs a command: ttport exec -- python my_model.py | pytest tests/...")
    try:
        return execute.run(command, board=args.board)
    except FileNotFoundError:
        raise UserError(f"exec: command not found: {command[0]}") from None


COMMANDS = {"list": cmd_list, "run": cmd_run, "compare": cmd_compare, "exec": cmd_exec}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.verbose and args.command != "exec":  # exec's command runs in its own processes
        quiet_libraries()
    try:
        return COMMANDS[args.command](args)
    except (UserError, backend.BackendError) as exc:
        _stderr(f"ttport: error: {str(exc).strip() if args.verbose else one_line(exc)}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _stderr("ttport: interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: its own exit code, never confused with "a component failed"
        if args.verbose:
            traceback.print_exc()
        _stderr(
            f"ttport: internal error: {type(exc).__name__}: {one_line(exc)}"
            + ("" if args.verbose else " (run with --verbose for the traceback)")
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
