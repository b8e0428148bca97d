"""Paper tickets for walk-ins: one print worker in front of the counter's printer.

A walk-in never waits for paper. The ticket is made and answered first; the print is queued
here and done by `run`, the one task that talks to the printer (so two tablets adding
walk-ins at once print one after the other, not interleaved). Every attempt ends with a
`print` frame on the staff stream, so the tablet that asked can say "printed" or "the
printer did not answer", and with a count in /metrics. A printer that is off costs one
deadline per ticket in this task, nothing anywhere else.

The printed QR code opens the ticket page on the customer's phone, which needs the ticket's
secret. The agent stores only a hash of it, so the secret of each walk-in is kept in memory
(bounded) for reprints; after a restart a reprint carries the number and the time, but no
link, and says so on the tablet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote
from zoneinfo import ZoneInfo

from agent.core.ports import Clock, TicketPrinter
from agent.core.printing import TicketPrint
from agent.core.queue import Ticket
from agent.metrics import Metrics
from agent.services.hub import STAFF_TOPIC, Hub

_LOGGER = logging.getLogger(__name__)

PRINT_QUEUE = 32  # tickets waiting for paper; past this a walk-in's print is refused at once
SECRETS_KEPT = 2000  # walk-in secrets kept for reprints (a few days of a busy counter)


def ticket_link(public_url: str, ticket_id: str, secret: str) -> str:
    """What a paper ticket's QR code opens (agent/web/printer_api.py): the secret becomes the
    ticket's cookie and the phone lands on the ticket page. Also the QR code the tablet shows
    after a booking's check-in by hand."""
    return f"{public_url}/t/{quote(ticket_id)}/open?s={quote(secret)}"


# (locale) -> (heading above the number, hint under the QR code): the web layer's words.
PrintWording = Callable[[str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    """What became of one print, for the tablets (a `print` frame on the staff stream)."""

    ticket_id: str
    queue: str
    number: int
    printed: bool
    reason: str | None  # "unreachable", "timeout", "queue_full" or "error" when not printed
    with_link: bool  # the QR code of the ticket page is on the paper
    reprint: bool


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    configured: bool
    name: str | None
    print_walk_ins: bool


@dataclass(frozen=True, slots=True)
class _Job:
    ticket: Ticket
    paper: TicketPrint
    reprint: bool


class TicketPrinting:
    def __init__(
        self,
        printer: TicketPrinter | None,
        *,
        hub: Hub,
        metrics: Metrics,
        clock: Clock,
        timezone: str,
        store_name: str,
        public_url: str,
        queue_label: Callable[[str], str],
        wording: PrintWording,
        print_walk_ins: bool = True,
    ) -> None:
        self._printer = printer
        self._hub = hub
        self._metrics = metrics
        self._clock = clock
        self._zone = ZoneInfo(timezone)
        self._store_name = store_name
        self._public_url = public_url.rstrip("/")
        self._queue_label = queue_label
        self._wording = wording
        self._print_walk_ins = print_walk_ins
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue(PRINT_QUEUE)
        self._secrets: OrderedDict[str, str] = OrderedDict()

    @property
    def status(self) -> PrinterStatus:
        printer = self._printer
        return PrinterStatus(
            configured=printer is not None,
            name=printer.name if printer is not None else None,
            print_walk_ins=printer is not None and self._print_walk_ins,
        )

    def walk_in(self, ticket: Ticket, secret: str) -> None:
        """A walk-in was added: remember its secret for reprints, and print it if walk-ins
        print here. Returns at once; the outcome comes as a `print` frame."""
        if self._printer is None:
            return
        self._secrets[ticket.id] = secret
        self._secrets.move_to_end(ticket.id)
        while len(self._secrets) > SECRETS_KEPT:
            self._secrets.popitem(last=False)
        if self._print_walk_ins:
            self._submit(ticket, reprint=False)

    def reprint(self, ticket: Ticket) -> bool:
        """Print this ticket again (the tablet's "Print"); False if no printer is set up."""
        if self._printer is None:
            return False
        self._submit(ticket, reprint=True)
        return True

    def _submit(self, ticket: Ticket, *, reprint: bool) -> None:
        job = _Job(ticket, self._paper(ticket), reprint)
        try:
            self._jobs.put_nowait(job)
        except asyncio.QueueFull:
            self._finish(job, "queue_full")

    def _paper(self, ticket: Ticket) -> TicketPrint:
        heading, hint = self._wording(ticket.locale)
        secret = self._secrets.get(ticket.id)
        url = None
        if secret is not None:
            url = ticket_link(self._public_url, ticket.id, secret)
        return TicketPrint(
            store=self._store_name,
            queue_label=self._queue_label(ticket.queue),
            number=ticket.number,
            issued=ticket.created_at.astimezone(self._zone).strftime("%d/%m %H:%M"),
            url=url,
            heading=heading,
            hint=hint if url else "",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """The print worker: one ticket at a time, until the agent stops."""
        if self._printer is None:
            return
        printer = self._printer
        while not stop.is_set():
            job: _Job | None = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    job = await self._jobs.get()
            if job is None:
                continue
            try:
                await printer.print_ticket(job.paper)
            except TimeoutError:
                self._finish(job, "timeout")
            except OSError as exc:
                _LOGGER.warning(
                    "printer %s refused ticket %s: %s", printer.name, job.paper.number, exc
                )
                self._finish(job, "unreachable")
            except Exception:  # one bad ticket must not stop every later print
                _LOGGER.exception("printing ticket %s failed", job.paper.number)
                self._finish(job, "error")
            else:
                self._finish(job, None)

    def _finish(self, job: _Job, reason: str | None) -> None:
        printed = reason is None
        self._metrics.tickets_printed.labels(result="printed" if printed else reason).inc()
        if reason == "timeout":
            _LOGGER.warning("printer did not take ticket %s in time", job.paper.number)
        self._hub.publish(
            STAFF_TOPIC,
            "print",
            PrintOutcome(
                ticket_id=job.ticket.id,
                queue=job.ticket.queue,
                number=job.ticket.number,
                printed=printed,
                reason=reason,
                with_link=job.paper.url is not None,
                reprint=job.reprint,
            ),
        )
