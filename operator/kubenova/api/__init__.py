"""kubenova's API: one typed model per kind, the single source of the CRDs in ``operator/crds/``.

Each module holds one kind's spec and status models and its :class:`~kubenova.api.common.Kind`
(names, scope, printer columns, rules). :mod:`kubenova.api.crds` turns them into
CustomResourceDefinitions; handlers read specs through the same models.
"""
