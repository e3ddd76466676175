"""The cluster: one feed, N workers and an API process sharing Redis Streams and PostgreSQL.

``streams.py`` names the streams and encodes what travels on them; ``streams_bus.py`` is a ``Bus``
whose ticks and events also go to and come from Redis; ``ownership.py`` keeps each running bot
owned by exactly one live worker (leases in PostgreSQL with a fencing token); ``rate_bucket.py``
shares one Coinbase rate-limit budget across processes.
"""
