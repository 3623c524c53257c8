"""The Ray instance a run uses: one this process already joined, a cluster to join, or a private one.

A private local instance (no address, no RAY_ADDRESS, no ``ray start``-ed Ray on this machine,
or ``address: local``) keeps its files out of the user's home and out of the shared temp
folder: Ray alone writes a token to ``~/.ray/auth_token`` and leaves its session logs under
``/tmp/ray``. Here the token is handed to Ray in the environment and its sessions go to a
temporary folder (under RAY_TMPDIR when set) that is removed when the run shuts the instance down.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from typing import Any

from avseq.errors import ConfigError
from avseq.pipeline.ray_options import RayOptions

TOKEN_VARS = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")  # how a user hands Ray a token themselves


@contextlib.contextmanager
def ray_session(ray: Any, options: RayOptions, **init_args: Any) -> Iterator[None]:
    """Ray connected for the body; ``init_args`` go to ``ray.init`` (e.g. ``num_cpus``).

    Reuses a Ray this process is connected to; joins ``options.address``, RAY_ADDRESS or a
    ``ray start``-ed Ray on this machine (and stays connected, as ``ray.init`` does); else
    starts a private local instance and shuts it down at the end. Usage statistics stay off.
    Raises ConfigError when Ray cannot be reached or started.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        yield
    elif not starts_local_instance(options.address):
        _init(ray, options.address, init_args)
        yield
    else:
        parent = os.environ.get("RAY_TMPDIR") or None
        with tempfile.TemporaryDirectory(prefix="avseq-ray-", dir=parent, ignore_cleanup_errors=True) as tmp:
            _give_auth_token()
            _init(ray, "local", {**init_args, "_temp_dir": tmp})
            try:
                yield
            finally:
                ray.shutdown()


def starts_local_instance(address: str | None) -> bool:
    """True when ``ray.init(address)`` would start a new Ray on this machine instead of joining one."""
    if address == "local":
        return True
    if address is not None or os.environ.get("RAY_ADDRESS"):
        return False
    try:  # Ray's own rule: the address the last `ray start` on this machine recorded
        from ray._private.services import find_bootstrap_address

        return find_bootstrap_address(None) is None
    except (ImportError, AttributeError):  # another Ray: leave the choice (and its files) to ray.init
        return False


def _give_auth_token() -> None:
    """Put a token for private instances in this process's environment, unless the user gave one.

    Ray's processes inherit it, so Ray writes none to ~/.ray/auth_token. It stays set for the
    life of the process: Ray caches the first token it reads, so a second private instance
    started by the same process must use the same one.
    """
    if not any(os.environ.get(name) for name in TOKEN_VARS):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)


def _init(ray: Any, address: str | None, init_args: dict[str, Any]) -> None:
    args = {"include_dashboard": False, "log_to_driver": False, **init_args}
    try:
        ray.init(address=address, **args)
    except (ConnectionError, ValueError, RuntimeError) as err:
        if address == "local":
            raise ConfigError(f"cannot start a local Ray instance: {one_line(err)}") from None
        where = address or os.environ.get("RAY_ADDRESS") or "a local instance"
        raise ConfigError(f"cannot connect to Ray at {where!r}: {one_line(err)}") from None


def one_line(err: BaseException) -> str:
    """The last non-empty line of ``err`` (Ray's errors end with the cause), at most 300 characters."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[-1] if lines else type(err).__name__)[:300]
