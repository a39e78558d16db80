"""The service's typed state: the serving re-ranker (swapped atomically on reload) and the
Prometheus metrics of one app."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fusionrank.service.config import ServiceConfig
from fusionrank.service.loading import POLICIES_DIR
from fusionrank.service.reranker import Reranker

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip


class ModelHolder:
    """Holds the serving :class:`Reranker`; :meth:`reload` swaps in a new one.

    A request reads :attr:`current` once and keeps that re-ranker to the end, so a swap
    never mixes two policies in one answer; a policy that fails to load leaves the old
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
        self.loaded_at = time.time()
        self._reload_lock = threading.Lock()

    @classmethod
    def load(cls, source: Path, config: ServiceConfig) -> ModelHolder:
        return cls(Reranker.load(source, config), source, config)

    def target(self, path: str | None) -> Path:
        """The folder a reload reads: ``path``, a policy name in the serving run, or
        (None) the original source."""
        if path is None:
            return self.source
        given = Path(path)
        if given.exists():
            return given
        run = self.current.model.run_dir
        if run is not None and (run / POLICIES_DIR / path).is_dir():
            return run / POLICIES_DIR / path
        raise ValueError(
            f"{path} is neither a folder nor a policy name under "
            f"{run / POLICIES_DIR if run else 'the run'}; give a run or policy folder"
        )

    def reload(self, path: str | None = None) -> Reranker:
        """Load a policy and make it serve; one reload at a time.

        Raises:
            ValueError: If it does not load; the serving policy stays.
        """
        with self._reload_lock:
            config = (
                self.config if path is None else self.config.model_copy(update={"policy": None})
            )
            fresh = Reranker.load(self.target(path), config, reuse=self.current)
            old, self.current = self.current, fresh
            self.loaded_at = time.time()
        logger.info("reloaded: policy %s (%s) replaces %s", fresh.name, fresh.version, old.version)
        return fresh


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
        started: ``time.time()`` at start.
    """

    holder: ModelHolder
    metrics: ServiceMetrics
    config: ServiceConfig
    started: float = field(default_factory=time.time)
