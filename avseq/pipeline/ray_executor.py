"""The Ray executor (``executor: ray``): the same pipeline file on a Ray cluster through Ray Data.

The stage graph maps onto one streaming dataset::

    inputs --from_items (a block per file)--> flat_map(decode_row)          CPU tasks, decode_cpus each
           --map_batches(ModelActor, ActorPoolStrategy(size=ray.actors))    the models, loaded once per
                                                                            actor, gpus_per_actor each
           --map(write_row)-->                                              CPU tasks: the sinks write
                                                                            OUTDIR/<id>/ (shared storage)
           --> the driver records each file's Result                        results.jsonl, progress,
                                                                            fail-fast, summary.json

Resume, skip rules, results.jsonl, summary.json and exit codes come from the same
:class:`~avseq.pipeline.executor.RunRecorder` as the local executor. Ray is imported only
when this executor runs; without it the run stops with how to install it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from avseq.errors import AvseqError, BundleError, ConfigError
from avseq.pipeline.autobatch import CPU_BATCH
from avseq.pipeline.inputs import InputItem
from avseq.pipeline.outdir_lock import output_folder_lock
from avseq.pipeline.plan import build_plan
from avseq.pipeline.progress import Progress
from avseq.pipeline.ray_options import RayOptions
from avseq.pipeline.ray_session import one_line, ray_session
from avseq.pipeline.ray_tasks import ModelActor, decode_row, item_row, write_row
from avseq.pipeline.recorder import RunRecorder, RunSummary
from avseq.pipeline.results import Result
from avseq.pipeline.spec import PipelineSpec

INSTALL_HINT = "pip install 'avseq[ray]'"
MAX_BLOCKS = 10_000  # one block per file up to this many files, so decode tasks balance across workers


def require_ray() -> Any:
    """The ``ray`` module; ConfigError saying how to install it when it is missing."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"executor 'ray' needs Ray, which is not installed here; install it with: {INSTALL_HINT}"
        ) from None
    return ray


def run_pipeline_ray(
    spec: PipelineSpec,
    inputs: list[InputItem],
    outdir: str | Path,
    *,
    overwrite: bool = False,
    fail_fast: bool = False,
    progress: bool = True,
) -> RunSummary:
    """Run ``spec`` on Ray over ``inputs``; same outputs, results and summary as :func:`run_pipeline`.

    Joins or starts Ray for the run (:func:`~avseq.pipeline.ray_session.ray_session`), after
    taking the output folder's lock. OUTDIR must be reachable at the same path from every
    worker (a shared filesystem). Raises ConfigError when Ray is missing or the cluster cannot
    hold the requested actors, OutputFolderBusyError when another run holds OUTDIR.
    """
    ray = require_ray()
    outdir = local_outdir(outdir)
    plan = build_plan(spec, roles=())
    with output_folder_lock(outdir), ray_session(ray, spec.ray):
        quiet_ray_data(ray)
        actor_args = actor_resources(ray, spec)
        start = time.perf_counter()
        run = RunRecorder(plan, outdir, inputs, fail_fast, Progress(len(inputs), enabled=progress))
        actors = _record_stream(run, stream_results(ray, spec, run.resume(overwrite), outdir, actor_args))
        fields = {k: actors[k] for k in ("device", "bundles", "cpu_threads") if k in actors}
        fields["ray"] = {**spec.ray.model_dump(exclude={"address"}), **actor_args, "cluster": _cluster(ray)}
        return run.finish(time.perf_counter() - start, **fields)


def _record_stream(run: RunRecorder, stream: Iterator[tuple[Result, dict]]) -> dict[str, Any]:
    """Record each result as it arrives; returns the model actors' last meta (device, bundles)."""
    actors: dict[str, Any] = {}
    with contextlib.closing(stream):
        for result, meta in stream:  # closing the stream on fail-fast stops the dataset
            run.record(result)
            actors = meta or actors
            if run.stopped:
                break
    return actors


def local_outdir(outdir: str | Path) -> Path:
    """``outdir`` as an absolute path (the workers write by it); ConfigError for a URL (s3://...).

    Writing through fsspec (S3, GCS) is not supported yet: use a filesystem every node mounts.
    """
    text = str(outdir)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", text):
        raise ConfigError(
            f"output folder {text!r}: URLs (fsspec, S3) are not supported yet; give a path on a "
            f"filesystem mounted at the same place on every Ray node"
        )
    return Path(outdir).resolve()


def quiet_ray_data(ray: Any) -> None:
    """Hide Ray Data's progress bars and its info logging (avseq shows its own progress)."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def actor_resources(ray: Any, spec: PipelineSpec) -> dict[str, float]:
    """``{"num_cpus", "num_gpus"}`` per model actor; ConfigError when the cluster cannot hold the pool.

    GPUs: ``ray.gpus_per_actor``, else 1 when the model stages may use CUDA and the cluster
    has GPUs. The pool plus one decode task must fit in the cluster's CPUs, or the run would wait.
    """
    opts, cluster = spec.ray, ray.cluster_resources()
    devices = {s.device or spec.device for s in spec.stages if s.stage_type.role == "batch"}
    wants_cuda = any(d != "cpu" for d in devices)
    explicit_cuda = any(d.startswith("cuda") for d in devices)
    gpus = opts.gpus_per_actor
    if gpus is None:
        gpus = 1.0 if wants_cuda and cluster.get("GPU", 0) > 0 else 0.0
    if explicit_cuda and gpus == 0:
        raise ConfigError(
            f"device {sorted(devices)} needs a GPU per model actor, but the Ray cluster has "
            f"{cluster.get('GPU', 0):g} GPUs and ray.gpus_per_actor={opts.gpus_per_actor}; "
            f"use device: auto or cpu"
        )
    _check_fits(opts, gpus, cluster)
    return {"num_cpus": opts.cpus_per_actor, "num_gpus": gpus}


def _check_fits(opts: RayOptions, gpus: float, cluster: dict[str, float]) -> None:
    need_cpus, have_cpus = opts.actors * opts.cpus_per_actor + opts.decode_cpus, cluster.get("CPU", 0)
    if need_cpus > have_cpus + 1e-9:
        raise ConfigError(
            f"ray.actors={opts.actors} x ray.cpus_per_actor={opts.cpus_per_actor:g} + ray.decode_cpus="
            f"{opts.decode_cpus:g} needs {need_cpus:g} CPUs but the Ray cluster has {have_cpus:g}; "
            f"lower ray.actors or ray.cpus_per_actor"
        )
    need_gpus, have_gpus = opts.actors * gpus, cluster.get("GPU", 0)
    if need_gpus > have_gpus + 1e-9:
        raise ConfigError(
            f"ray.actors={opts.actors} x {gpus:g} GPUs per actor needs {need_gpus:g} GPUs but the "
            f"Ray cluster has {have_gpus:g}; lower ray.actors or set ray.gpus_per_actor to a fraction"
        )


def build_dataset(ray: Any, spec: PipelineSpec, todo: list[InputItem], outdir: Path, actor: dict) -> Any:
    """The lazy Ray Dataset: input rows -> decode tasks -> model actor pool -> sink tasks -> Result rows."""
    rows = [item_row(k, item) for k, item in enumerate(todo)]
    ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), MAX_BLOCKS))
    cpus = spec.ray.decode_cpus
    # flat_map keeps decoding a task pool of its own (a row-preserving map would be fused into the actors)
    ds = ds.flat_map(decode_row, fn_kwargs={"spec": spec}, num_cpus=cpus)
    ds = ds.map_batches(
        ModelActor,
        fn_constructor_kwargs={"spec": spec},
        batch_size=CPU_BATCH if spec.batch_size == "auto" else spec.batch_size,  # files per actor call
        compute=ray.data.ActorPoolStrategy(size=spec.ray.actors),
        **actor,
    )
    return ds.map(write_row, fn_kwargs={"spec": spec, "outdir": str(outdir)}, num_cpus=cpus)


def stream_results(
    ray: Any, spec: PipelineSpec, todo: list[InputItem], outdir: Path, actor: dict
) -> Iterator[tuple[Result, dict]]:
    """(Result, model actor meta) per input as the cluster finishes it, in no fixed order.

    A failure of the Ray job itself (not of one file) becomes an AvseqError naming it.
    """
    if not todo:
        return
    import pickle

    ds = build_dataset(ray, spec, todo, outdir, actor)
    try:
        for row in ds.iter_rows():
            yield pickle.loads(row["blob"]), json.loads(row["meta"])
    except ray.exceptions.RayError as err:
        raise job_error(err) from err


def job_error(err: BaseException) -> AvseqError:
    """The error to raise for a failed Ray job: a worker's ConfigError / BundleError as itself
    (e.g. an actor that cannot load its bundle), else an AvseqError with Ray's last line."""
    line = one_line(err)
    found = re.match(r"avseq\.errors\.(ConfigError|BundleError): (.*)", line)
    if found:
        return {"ConfigError": ConfigError, "BundleError": BundleError}[found[1]](found[2])
    return AvseqError(f"the Ray job failed: {line}")


def _cluster(ray: Any) -> dict[str, float]:
    res = ray.cluster_resources()
    return {k: res[k] for k in ("CPU", "GPU") if k in res} | {"nodes": len(ray.nodes())}
