"""kubenova's scheduler, pure: Nova's filters and weighers over in-memory host states, and the
claims that keep two decisions from oversubscribing a host. No API calls: the operator feeds it
from kopf indexes and records each claim in the Server's status.
"""
