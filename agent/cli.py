"""The `retail-edge` console script (contract §1)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from agent import __version__
from agent.errors import ConfigError, UserFacingError
from agent.logs import configure_logging

_LOGGER = logging.getLogger("agent")


EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_UNEXPECTED = 3
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _Parser(argparse.ArgumentParser):
    """argparse, but a malformed command line is one line on stderr (contract §1)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="retail-edge", description="In-store edge agent.")
    parser.add_argument("--version", action="version", version=f"retail-edge {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=LOG_LEVELS,
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR",
    )
    parser.add_argument(
        "--log-format",
        default="text",
        choices=("text", "json"),
        help="text (default) or json: one JSON object per line, for central log shipping",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    run = sub.add_parser("run", help="run the agent daemon until SIGTERM/SIGINT")
    run.add_argument("-c", "--config", required=True, type=Path, metavar="FILE")

    demo = sub.add_parser("demo", help="the whole system on one machine, no hardware")
    demo.add_argument("--http-port", type=int, default=8080, metavar="N")
    demo.add_argument("--mqtt-url", default=None, metavar="URL")
    demo.add_argument("--data-dir", type=Path, default=None, metavar="DIR")
    demo.add_argument(
        "--lan",
        action="store_true",
        help="listen on every interface, so phones on this machine's network can join",
    )

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("file", type=Path, metavar="FILE")

    qr = sub.add_parser("window-qr", help="write the printable window QR code of a queue")
    qr.add_argument("-c", "--config", required=True, type=Path, metavar="FILE")
    qr.add_argument("--queue", required=True, metavar="Q")
    qr.add_argument("--out", required=True, type=Path, metavar="PATH", help=".svg or .png")

    pair = sub.add_parser(
        "pair", help="print a one-time pairing code for a staff tablet or a window screen"
    )
    pair.add_argument("-c", "--config", required=True, type=Path, metavar="FILE")
    pair.add_argument(
        "--name",
        default="",
        metavar="NAME",
        help="the tablet's name in `devices` and for `revoke` (default: what the tablet types)",
    )
    pair.add_argument(
        "--role",
        default="staff",
        choices=("staff", "display", "manager"),
        help="staff (a tablet, the default), display (a window screen: display pages only) "
        "or manager (a staff tablet that also opens the manager view, /manager)",
    )

    doctor = sub.add_parser(
        "doctor", help="check what a store device needs before it goes live, one line each"
    )
    doctor.add_argument("-c", "--config", required=True, type=Path, metavar="FILE")
    doctor.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=("storage", "broker", "ble", "camera", "nfc", "gpio", "clock"),
        metavar="CHECK",
        help="leave a check out (repeatable): storage, broker, ble, camera, nfc, gpio, clock",
    )

    devices = sub.add_parser("devices", help="list paired tablets and screens")
    devices.add_argument("-c", "--config", required=True, type=Path, metavar="FILE")

    revoke = sub.add_parser("revoke", help="revoke a tablet or screen (by id or name)")
    revoke.add_argument("-c", "--config", required=True, type=Path, metavar="FILE")
    revoke.add_argument("device", metavar="ID_OR_NAME")

    from central.cli import add_central_parser  # argparse only; psycopg/nats load on use

    add_central_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    except UserFacingError as exc:
        print(f"retail-edge: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"retail-edge: unexpected error: {type(exc).__name__}: {exc} (run with --debug)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check-config":
        return _check_config(args.file)
    if args.command == "run":
        return _run(args.config)
    if args.command == "demo":
        return _demo(args)
    if args.command == "doctor":
        return _doctor(args.config, args.skip)
    if args.command == "central":
        from central.cli import run_central

        return run_central(args)
    return _tool(args)


def _tool(args: argparse.Namespace) -> int:
    from agent import tools
    from agent.config.loader import load_config

    config = load_config(args.config)
    if args.command == "window-qr":
        url = tools.window_qr(config, args.queue, args.out)
        print(f"wrote {args.out} -> {url}")
    elif args.command == "pair":
        code = tools.pairing_code(config, args.name, args.role)
        label = f" for {args.name!r}" if args.name else ""
        kinds = {"display": "Display pairing code", "manager": "Manager tablet pairing code"}
        kind = kinds.get(args.role, "Pairing code")
        print(f"{kind}{label}: {code} (valid 10 minutes, once)")
        if args.role == "display":
            queues = ", ".join(q.id for q in config.queues) or "Q"
            print(
                f"Open {config.http.public_url}/window/QUEUE (QUEUE: {queues}) on the window "
                "screen and type it once."
            )
        else:
            print(f"Open {config.http.public_url}/staff on the tablet and enter it.")
            if args.role == "manager":
                print(f"The manager view is then at {config.http.public_url}/manager.")
    elif args.command == "devices":
        for device in tools.staff_devices(config):
            state = f"revoked {device.revoked_at}" if device.revoked_at else "active"
            seen = f"last seen {device.last_seen_at}" if device.last_seen_at else "never used"
            print(
                f"{device.id}  {device.name}  {device.role}  paired {device.created_at}  "
                f"{seen}  {state}"
            )
    elif args.command == "revoke":
        if tools.revoke_device(config, args.device) == 0:
            raise UserFacingError(f"no active paired device {args.device!r}")
        print(f"revoked {args.device}")
    else:
        raise AssertionError(args.command)
    return 0


def _check_config(path: Path) -> int:
    from agent.config.loader import load_config

    config = load_config(path)
    print(f"{path}: OK (store {config.store.id}, {len(config.devices)} devices)")
    return 0


def _doctor(path: Path, skip: list[str]) -> int:
    from agent.doctor import Outcome, run_doctor

    results = asyncio.run(run_doctor(path, skip=skip))
    for check in results:
        print(check.line(), flush=True)
    failed = sum(check.outcome is Outcome.FAIL for check in results)
    print(f"{failed} of {len(results)} checks failed" if failed else "all checks passed")
    return EXIT_BAD_INPUT if failed else 0


def _run(path: Path) -> int:
    from agent.bootstrap import build_daemon
    from agent.config.loader import load_config
    from agent.daemon import run_daemon

    config = load_config(path)
    asyncio.run(run_daemon(build_daemon(config)))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from agent.demo import DemoOptions, run_demo

    if not 0 <= args.http_port <= 65535:
        raise UserFacingError(f"--http-port must be 0-65535, got {args.http_port}")
    asyncio.run(run_demo(DemoOptions(args.http_port, args.mqtt_url, args.data_dir, args.lan)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
