"""The service's typed state: the serving re-ranker (swapped atomically on a checked
reload), the admission limits, the admin rules and the Prometheus metrics of one app."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fusionrank.service.admin import AdminGate
from fusionrank.service.config import ServiceConfig
from fusionrank.service.loading import exports_folder, has_retriever, resolve
from fusionrank.service.prefetch import Prefetcher
from fusionrank.service.reload import ReloadRefused, ReloadRules, probe_policy
from fusionrank.service.reranker import Reranker
from fusionrank.service.shedding import Admission

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip


class ModelHolder:
    """Holds the serving :class:`Reranker`; :meth:`reload` swaps in a checked new one.

    A request reads :attr:`current` once and keeps that re-ranker to the end, so a swap
    never mixes two policies in one answer; a policy that fails any check leaves the old
    one serving.

    Args:
        reranker: The first re-ranker.
        source: The path it was loaded from (a run or policy folder).
        config: The service settings.
    """

    def __init__(self, reranker: Reranker, source: Path, config: ServiceConfig) -> None:
        self.current = reranker
        self.source = source
        self.config = config
        self.rules = ReloadRules.for_run(reranker.model.run_dir, config)
        self.loaded_at = time.time()
        self._reload_lock = threading.Lock()

    @classmethod
    def load(cls, source: Path, config: ServiceConfig) -> ModelHolder:
        return cls(Reranker.load(source, config), source, config)

    def reload(self, path: str | None = None) -> Reranker:
        """Check a policy in a child process, load it and make it serve.

        Args:
            path: A policy name or relative path in the run's ``policies/``, a folder in
                an allowed folder, or None (the configured policy, re-read).

        Raises:
            ReloadRefused: 403 for a target outside the allowed folders, 409 while
                another reload runs, 422 for a policy that cannot serve here.
            ValueError: If the policy does not load or crashed its check.
        """
        if not self._reload_lock.acquire(blocking=False):
            raise ReloadRefused(409, "another reload is running; retry when it finished")
        try:
            config = (
                self.config if path is None else self.config.model_copy(update={"policy": None})
            )
            folder = self.source if path is None else self.rules.target(path)
            policy_dir, run = resolve(folder, config.policy)
            if path is not None:
                self.rules.confine(policy_dir)
            self._check_retriever(policy_dir, run)
            exports = exports_folder(run, config)
            probed = probe_policy(policy_dir, config, exports)
            fresh = Reranker.load(policy_dir, config, reuse=self.current)
            if fresh.version != probed["version"]:
                raise ValueError(
                    f"{policy_dir} changed while it was checked ({probed['version']} -> "
                    f"{fresh.version}); reload it again"
                )
            old, self.current = self.current, fresh
            self.loaded_at = time.time()
        finally:
            self._reload_lock.release()
        logger.info("reloaded: policy %s (%s) replaces %s", fresh.name, fresh.version, old.version)
        return fresh

    def _check_retriever(self, policy_dir: Path, run: Path | None) -> None:
        """Refuse a policy that would leave a service with a retriever without one."""
        from fusionrank.agents.policy import check_names, read_policy_meta

        meta = read_policy_meta(policy_dir)
        serving = self.current.retriever
        if serving is None:
            return
        same = run is None or (
            self.current.model.run_dir is not None
            and run.resolve() == self.current.model.run_dir.resolve()
        )
        if same:
            check_names(
                "modality_names", meta["modality_names"], serving.modality_names, policy_dir.name
            )
            check_names(
                "feature_names", meta["feature_names"], serving.feature_names, policy_dir.name
            )
            return
        if not has_retriever(run):
            raise ReloadRefused(
                422,
                f"{policy_dir}: its run {run} holds no retriever index, so /search and "
                "catalog-id re-ranks would stop; build it (`fusionrank index build`) or copy "
                "the policy into the serving run's policies/ folder",
            )


@dataclass(eq=False)
class ServiceMetrics:
    """Prometheus metrics in their own registry (one per app, so tests can build many)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "fusionrank_requests",
            "HTTP requests by endpoint and status code.",
            ("endpoint", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "fusionrank_request_seconds",
            "Request latency in seconds, middleware to last byte.",
            ("endpoint",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "fusionrank_errors",
            "Refused or failed requests by endpoint and kind.",
            ("endpoint", "kind"),
            registry=self.registry,
        )
        self.candidates = Histogram(
            "fusionrank_candidates",
            "Candidates per re-rank or search request.",
            buckets=(1, 10, 20, 50, 100, 200, 500, 1000, 5000),
            registry=self.registry,
        )
        self.reloads = Counter(
            "fusionrank_reloads", "Policy reloads by outcome.", ("outcome",), registry=self.registry
        )
        self.pending = Gauge(
            "fusionrank_pending", "Re-ranks queued or running in the pool.", registry=self.registry
        )
        self.shed = Gauge(
            "fusionrank_shed", "Re-ranks refused for load (503) so far.", registry=self.registry
        )
        self.context_batches = Gauge(
            "fusionrank_context_batches",
            "Micro-batches of new queries encoded and searched so far.",
            registry=self.registry,
        )
        self.context_queries = Gauge(
            "fusionrank_context_queries",
            "New queries encoded and searched so far (over batches: the mean batch).",
            registry=self.registry,
        )
        self.policy = Gauge(
            "fusionrank_policy_info",
            "The serving policy (value 1).",
            ("name", "version", "engine"),
            registry=self.registry,
        )

    def serving(self, reranker: Reranker) -> None:
        """Point the policy gauge at ``reranker``."""
        self.policy.clear()
        self.policy.labels(reranker.name, reranker.version, reranker.engine).set(1)


@dataclass(eq=False)
class ServiceState:
    """What the app holds, set in its lifespan (never at import).

    Args:
        holder: The serving re-ranker.
        metrics: The app's metrics.
        config: The service settings.
        admission: The re-rank pool and its load-shedding limits.
        prefetch: The batched retrieval of new queries.
        admin: The admin rules.
        started: ``time.time()`` at start.
    """

    holder: ModelHolder
    metrics: ServiceMetrics
    config: ServiceConfig
    admission: Admission
    prefetch: Prefetcher
    admin: AdminGate
    started: float = field(default_factory=time.time)
