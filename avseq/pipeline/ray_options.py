"""The ``ray:`` section of a pipeline file, read only by ``executor: ray``.

Kept apart from the executor so that validating a pipeline never imports Ray.

```yaml
executor: ray
ray:
  address: null        # null: RAY_ADDRESS, a cluster started on this machine, else a new local Ray;
                       # local: always a new local Ray (its files in a temp folder removed at the end)
  actors: 2            # model actors; each loads the pipeline's bundles once
  gpus_per_actor: null # null: 1 when the stages want CUDA and the cluster has GPUs, else 0
  cpus_per_actor: 1
  decode_cpus: 1       # CPUs reserved by each decode task (and each sink task)
```
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt


class RayOptions(BaseModel):
    """How a pipeline maps onto a Ray cluster (see docs/ray.md).

    address: ``ray.init`` address (``auto``, ``HOST:6379``, ``ray://HOST:10001``); None uses
    RAY_ADDRESS or a Ray already running on this machine, else starts a local one; ``local``
    always starts one (:mod:`avseq.pipeline.ray_session`).
    actors: size of the model actor pool. gpus_per_actor: GPUs reserved per actor (a fraction
    packs several actors on one GPU); None picks 1 when the stages' device may be CUDA and the
    cluster has GPUs, else 0. cpus_per_actor / decode_cpus: CPUs reserved per actor / per
    decode or sink task.
    """

    model_config = ConfigDict(extra="forbid")
    address: str | None = None
    actors: PositiveInt = 1
    gpus_per_actor: float | None = Field(None, ge=0, le=64)
    cpus_per_actor: float = Field(1.0, gt=0, le=1024)
    decode_cpus: float = Field(1.0, gt=0, le=1024)
