"""The one place that builds the agent: picks adapters or simulators and wires everything.

- `wiring.build`: opens the store and wires every component (`components.Components`);
- `features`: the parts a store's config switches on (MQTT link, Web Push, printer, reports,
  Home Assistant);
- `handlers`: the message bus's handler table, every reaction of one service to another
  (DESIGN.md §11);
- `assembly.assemble`: the web app and its server around the components, giving the daemon.
"""

from agent.bootstrap.assembly import assemble, build_daemon
from agent.bootstrap.components import Components
from agent.bootstrap.wiring import build

__all__ = ["Components", "assemble", "build", "build_daemon"]
