"""Runs kubenova's kopf operator: kopf's settings, the shared state in memo, and the run loop.

Called by ``kubenova operator`` (:mod:`kubenova.cli`). Importing :mod:`kubenova.handlers`
registers every handler with kopf's default registry; the state they share is one
:class:`~kubenova.handlers.state.OperatorState` in ``memo.state``.

kopf's defaults are chosen deliberately here, because each one costs API writes:

* finalizer, progress and diff-base storage live under kubenova's own prefix;
* kopf's own Events ("Handler ... succeeded") are off: kubenova posts the Events a user reads
  (Nova actions and faults) itself, and none for a resync that changed nothing;
* most handlers are ``on.event`` handlers that compare before writing, so an idle resync costs
  no write at all;
* kopf watches and queues the events, and :mod:`kubenova.handlers.dispatch` calls the index
  functions and handlers for each (kopf's own per-event machinery serves change handlers and
  daemons, which kubenova has none of, and was most of the operator's CPU per Server built).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from typing import Any

import kopf

from kubenova import config, metrics
from kubenova.api.common import GROUP
from kubenova.handlers import state
from kubenova.kube import client as kube_client
from kubenova.kube import peering

PREFIX = GROUP
FINALIZER = f"{GROUP}/finalizer"

log = logging.getLogger("kubenova")


class NoDiffBase(kopf.DiffBaseStorage):
    """No "last handled configuration": kubenova has no change handlers (``on.create``,
    ``on.update``, ``on.delete``, ``on.field``), only event and index handlers, which are level-
    triggered and read the object as it is. kopf still builds a diff base for every event (a deep
    copy of the whole body, status included, to drop most of it), a twentieth of the operator's
    CPU per Server built (issue 13's profile), and nothing reads it. ``tests/unit/
    test_index_functions.py`` fails if a change handler is added: then restore
    ``kopf.AnnotationsDiffBaseStorage``."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> Any:
        return {}

    def fetch(self, *, body: kopf.Body) -> None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: Any) -> None:
        return None


class WatchBackoffs:
    """The delays between tries of a failed request to the API server, kopf's own watches
    included: kopf's defaults first (1 to 21 s), then every 30 s, never giving up.

    kopf's default gives up after 8 retries (54 s) and then stops the whole operator ("Watcher
    for ... has failed"): a kube-apiserver slow to come back after a restart, answering 503 "the
    request has been made before all known HTTP paths have been installed" for a minute on a
    loaded machine, stopped kubenova in a test. A Kubernetes controller waits for its API server
    (client-go's reflectors retry for good), and so does kubenova now. An Iterable, not an
    iterator: each request starts over from the first delay."""

    FIRST = (1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)
    THEN = 30.0

    def __iter__(self) -> Iterator[float]:
        return itertools.chain(self.FIRST, itertools.repeat(self.THEN))


LIST_CHUNK = 500
"""Objects per page of kopf's initial listings (the API server's ``limit``)."""
WORKER_IDLE_S = 0.5
"""Seconds kopf keeps an object's worker (and the object's last event) after that event."""
EXITING_TIMEOUT = 60.0
"""Seconds after kopf begins to stop before the process is killed whatever still runs (kopf's
default is 10 minutes): an operator that stopped must exit soon, for its Deployment to start it
again."""


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    st = state.of(memo)
    conf = st.settings
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.enabled = False
    settings.watching.server_timeout = conf.watch_timeout_seconds
    settings.watching.client_timeout = conf.watch_timeout_seconds + 30
    # Lists in pages: one list of 10,000 Servers, decoded whole, was a peak of hundreds of MB
    # that the process's RSS kept after a restart.
    settings.watching.chunk_size = LIST_CHUNK
    # kopf keeps an object's worker a while after its last event, in case another comes, and
    # the worker keeps that event, whole: at a restart over 10,000 Servers, kopf's 5 s held every
    # object listed in the last 5 s. A new event for the object makes a new worker.
    settings.queueing.idle_timeout = WORKER_IDLE_S
    settings.peering.name = conf.peering
    settings.peering.clusterwide = True
    settings.peering.priority = conf.peering_priority
    settings.peering.standalone = conf.standalone
    settings.execution.max_workers = 20
    settings.networking.error_backoffs = WatchBackoffs()
    settings.process.ultimate_exiting_timeout = EXITING_TIMEOUT
    metrics.queue_depth(st.servers.queue.depth)
    if conf.webhook_listen:
        from kubenova.handlers import admission

        settings.admission.server = admission.server(conf)
        settings.admission.managed = conf.webhook_configuration or None
    if not conf.standalone and await peering.ensure(st.client, conf.peering):
        log.info("created the ClusterKopfPeering %s, which keeps one replica active", conf.peering)


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    st = state.of(memo)
    await st.stop_background()
    await st.client.close()


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # In-cluster service account first (the Helm install), then the kubeconfig (dev, tests).
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    return info


def run(conf: config.Settings | None = None, *, stop_flag: asyncio.Event | None = None) -> None:
    """Run the operator until interrupted (or until ``stop_flag`` is set, in tests)."""
    import kubenova.handlers  # noqa: F401 - registers the handlers
    from kubenova.handlers import dispatch

    dispatch.install()
    conf = conf or config.load()
    if conf.webhook_listen:
        from kubenova.handlers import admission

        admission.register(conf)
    logging.basicConfig(level=conf.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if conf.log_level != "DEBUG":
        # One line per HTTP request, and one per handled event (every Node heartbeat), would
        # drown what matters; kubenova logs its own decisions.
        logging.getLogger("httpx2").setLevel(logging.WARNING)
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if conf.metrics_address:
        metrics.serve(conf.metrics_address)

    # Shared state goes into the global memo now: kopf hands each object a shallow copy of it,
    # so anything added later by a handler would be private to that object. The client is made
    # here too (it binds to no event loop until its first request).
    memo = kopf.Memo(state=state.make(conf, kube_client.make()))
    asyncio.run(
        kopf.operator(
            clusterwide=True,
            # The peering name is set in `configure`: passing it here would make peering
            # mandatory, and a missing peering CRD would then pause every watch.
            standalone=conf.standalone,
            liveness_endpoint=f"http://{conf.health_address}/healthz" if conf.health_address else None,
            memo=memo,
            indexers=state.of(memo).indexers,
            stop_flag=stop_flag,
        )
    )
