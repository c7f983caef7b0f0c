"""A Server's lifecycle, pure: what its status says, what the spec or a ServerAction asks for,
and the next Nova step, as a value.

:mod:`.build` (accept, schedule) and :mod:`.plan` (converge, follow the spec, begin an action,
delete) hold the phases; each is a function of a :class:`~.view.Server` (spec and status, typed
as :mod:`.bodies`), a :class:`~.view.Facts` view of the operator's indexes and ``now``, and
returns an :class:`~.outcome.Outcome` that :mod:`kubenova.handlers.server_executor` carries out.
The pieces they are built from: :mod:`.status` (Nova's states and conditions), :mod:`.history`
(action records), :mod:`.claims` (claims as status records them), :mod:`.placing` (what a
placement records and the scheduler's request), :mod:`.moves` (the actions that change host or
size), :mod:`.tasks` (the task in flight) and :mod:`.intent` (what the spec asks for next).

Nothing here talks to Kubernetes (an import-linter contract holds that), so every phase is unit
tested without a cluster (``tests/unit/servers/``).
"""
