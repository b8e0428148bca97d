"""`retail-edge central ingest | status | publish` (contract 8.9), added to the agent's console
script by `agent/cli.py`. Nothing here imports psycopg, paho or nats at module level: the agent's
own commands never load them."""

from __future__ import annotations

import argparse
import ssl
from typing import Any

from agent.errors import UserFacingError


def add_central_parser(sub: Any) -> None:
    central = sub.add_parser("central", help="the reference central ingest (docs/central.md)")
    commands = central.add_subparsers(dest="central_command", required=True, metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="store events from the broker into PostgreSQL")
    ingest.add_argument(
        "--broker", required=True, metavar="URL", help="mqtt://, mqtts://, nats:// or tls:// (NATS)"
    )
    ingest.add_argument("--db", required=True, metavar="DSN", help="PostgreSQL connection string")
    ingest.add_argument("--prefix", default="retail/v1", metavar="P")
    ingest.add_argument("--group", default="central", metavar="NAME")
    ingest.add_argument(
        "--client-id", default=None, help="MQTT: this member's own client id (one per process)"
    )
    ingest.add_argument("--metrics-port", type=int, default=None, metavar="N")
    ingest.add_argument("--batch-max", type=_positive_int, default=500, metavar="N")
    ingest.add_argument(
        "--resend-after",
        type=_positive_float,
        default=5.0,
        metavar="S",
        help="ask a store for a hole open this long, and again as often",
    )
    ingest.add_argument(
        "--probe-after",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="ask a store silent this long for what may follow its last seq (again, backing off)",
    )
    ingest.add_argument(
        "--replicas",
        type=_positive_int,
        default=1,
        metavar="N",
        help="NATS: replicas of the stream and the consumer",
    )
    ingest.add_argument(
        "--ack-wait",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="NATS: redeliver what is not acknowledged within this time",
    )
    ingest.add_argument(
        "--ca-file", default=None, metavar="FILE", help="mqtts:// and tls://: the broker's CA"
    )

    status = commands.add_parser("status", help="each store's contiguous seq, holes and losses")
    status.add_argument("--db", required=True, metavar="DSN")
    status.add_argument("--json", action="store_true", help="a JSON array of objects")

    publish = commands.add_parser("publish", help="publish retail_customers as retained records")
    publish.add_argument("--broker", required=True, metavar="URL", help="mqtt:// or mqtts://")
    publish.add_argument("--db", required=True, metavar="DSN")
    publish.add_argument("--prefix", default="retail/v1", metavar="P")
    publish.add_argument(
        "--rate",
        type=_positive_float,
        default=200.0,
        metavar="N",
        help="at most N records per second (a mass update is spread out)",
    )
    publish.add_argument("--once", action="store_true", help="publish what is due, then exit")
    publish.add_argument("--client-id", default="central-publisher")
    publish.add_argument("--ca-file", default=None, metavar="FILE")


def run_central(args: argparse.Namespace) -> int:
    import psycopg

    try:
        if args.central_command == "ingest":
            from central.ingest import IngestOptions, run_ingest

            return run_ingest(
                IngestOptions(
                    broker=args.broker,
                    dsn=args.db,
                    prefix=args.prefix,
                    group=args.group,
                    client_id=args.client_id,
                    batch_max=args.batch_max,
                    resend_after_s=args.resend_after,
                    probe_after_s=args.probe_after,
                    metrics_port=args.metrics_port,
                    replicas=args.replicas,
                    ack_wait_s=args.ack_wait,
                    ca_file=args.ca_file,
                )
            )
        if args.central_command == "status":
            from central.status import run_status

            output = run_status(args.db, args.json)
            if output:  # no stores: no lines
                print(output)  # noqa: T201 - the command's output
            return 0
        from central.publish import PublishOptions, run_publish

        return run_publish(
            PublishOptions(
                broker=args.broker,
                dsn=args.db,
                prefix=args.prefix,
                rate_per_s=args.rate,
                once=args.once,
                client_id=args.client_id,
                ca_file=args.ca_file,
            )
        )
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserFacingError(f"database: {first}") from exc
    except ssl.SSLCertVerificationError as exc:
        raise UserFacingError(
            f"broker: its TLS certificate is not trusted ({exc.verify_message}); check --ca-file"
        ) from exc
    except ValueError as exc:
        raise UserFacingError(str(exc)) from exc


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value
