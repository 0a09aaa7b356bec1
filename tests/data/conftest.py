"""Fixtures for the data tests: the real external files and a task file that reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

EXTERNAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "external"


@pytest.fixture(scope="session")
def external() -> Path:
    if not (EXTERNAL / "sst2").is_dir():
        pytest.skip(f"external datasets not found at {EXTERNAL}")
    return EXTERNAL.resolve()


@pytest.fixture(scope="session")
def local_tasks(external: Path, tmp_path_factory) -> Path:
    """A task YAML declaring local-file tasks over the real external files; loaded into the registry."""
    from flankit.data.external import register_external_tasks

    return register_external_tasks(external, tmp_path_factory.mktemp("tasks"))


@pytest.fixture
def make_task(tmp_path: Path):
    """Factory: a small text -> label task over the given source spec (not registered)."""
    from flankit.data.tasks import Task

    def factory(source: dict, **overrides) -> Task:
        spec = dict(
            name=f"tmp_{tmp_path.name}",
            cluster="sentiment",
            version=1,
            kind="classification",
            family="classification",
            inputs=["text"],
            target="label",
            options=["negative", "positive"],
            metrics=["accuracy"],
            templates="sentiment",
            sources=[source],
        )
        spec.update(overrides)
        return Task(**spec)

    return factory
