"""The reference central ingest (contract 8.9): events from the stores into PostgreSQL, gap
detection and resend requests, customer records out. See docs/central.md.

It runs beside the agents, never inside them: it may import `agent.core` (pure helpers) and
`agent.sync.topics`, never the agent's services, store or web.
"""
