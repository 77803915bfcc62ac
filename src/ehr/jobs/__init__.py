"""Durable background work: the outbox of outbound messages (email, SMS) and periodic tasks.

See ``outbox`` (enqueue, claim, send, retry, dead letters), ``senders`` (pluggable delivery)
and ``worker`` (the ``ehr jobs run`` loop).
"""
