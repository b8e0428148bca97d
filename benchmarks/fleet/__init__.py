"""Fleet simulation: hundreds of real agents against one mosquitto, central on shared subscriptions.

What is real:

- every store is a real agent: `agent.bootstrap.build()` and `AgentDaemon.start()/stop()`, so
  each has its own SQLite database (WAL, `synchronous=FULL`, migrations, `seq` counter), its own
  outbox, publisher with its in-flight window, `MqttLink` with its own MQTT 5 session (client id
  `retail-edge-{store}`), Last Will, retained `online`/`offline` status, the subscriptions to
  customers, check-ins and resend requests, its HTTP server (on port 0) and its timers;
- the broker is a private mosquitto (`simulators.mosquitto`) on a free loopback port;
- the central side is 2 MQTT 5 clients in one shared-subscription group,
  `$share/central/{p}/stores/+/events`, each in its own process, each deduplicating by `id` and
  checking `seq` per store; the parent merges their ledgers (with a shared subscription a
  store's messages are spread over the group, so gaps can only be judged on the union, as a
  real central service does in its database);
- customer records: M retained records are on the broker before the stores connect, so each
  store's connect is the contract's full resync (N x M deliveries, each applied in SQLite).

What is not:

- many agents share a process: `stores / workers` agents (50 in the full run) run in one event
  loop per worker process, each with its own store thread as in the agent. A store's own
  process would cost ~70 MB; here an extra agent costs ~1 MB, which is what makes 200 stores
  fit on one small machine. They also share its 2 cores with the broker and the central side;
- events are injected at the unit of work (`uow.submit`, where the services hand over a
  decision) with a mix of contract event types, not produced by radios, cameras or tablets.
  The nominal rate, 1 event/s per store, is our assumption for a busy store at its peak;
- the SQLite files are on tmpfs (`/dev/shm`): every statement runs, but an fsync costs nothing.
  In the field each store fsyncs its own disk; here 200 stores would share one virtual disk and
  the benchmark would measure that disk instead of the broker;
- all clients are on loopback (no WAN latency, no TLS); mosquitto runs without persistence and
  with `max_queued_messages` raised (its default of 1000 per client drops QoS 1 messages queued
  for a consumer that lags).

Measured: per offered rate (events/s per store, ramped until fewer than 95 % of the offered
events arrive or p99 passes 1 s), the events/s and messages/s the central side received,
latency from the event's append in the agent's commit transaction to its receipt by a central
consumer (p50/p99; CLOCK_MONOTONIC is shared by all processes), the CPU of the broker, the
agents and the consumers, the broker's RSS (`/proc/{pid}`), gaps/duplicates/conflicts over the
whole run, the start-up (connect and retained-record resync) and the memory per agent.
Baselines in the same run, through the same broker: bare aiomqtt clients publishing one event
per QoS 1 message (window 32, as the agent) to the same consumer group, flat out and paced at
the fleet's nominal rate; and mosquitto's own C clients flat out (`mosquitto_pub -l` into a
`mosquitto_sub` group), which load the broker far harder than Python clients can.
"""

from benchmarks.fleet.ramp import run

__all__ = ["run"]
