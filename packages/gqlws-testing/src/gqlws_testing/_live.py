"""An ASGI application served for real on 127.0.0.1, for a test's duration."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["LiveServer"]

_T = TypeVar("_T")

HOST = "127.0.0.1"


class LiveServer:
    """Serve an ASGI application under uvicorn in a thread of this process.

    The server listens on 127.0.0.1 and a free port, in a daemon thread
    with an event loop of its own, so any client (this package's, gql,
    a browser) can reach it over a real socket, while the test broadcasts
    with `Subscription.broadcast_sync()` from its own thread as a
    management command would: the in-memory channel layer of this process
    reaches the server's consumers. Code under test that uses the database
    from the server's thread needs a database committed for real (with
    pytest-django: the `transactional_db` fixture).

    Use it as a context manager, or call `start()` and `stop()`::

        with LiveServer(application) as server:
            ...  # connect to server.url

    Args:
        application: the ASGI application.
        path: the path of the GraphQL endpoint in `url`.
        start_timeout: seconds to wait for the server to listen.
        uvicorn_options: more `uvicorn.Config` keywords (`ws`, `loop`...).

    Raises:
        ImportError: uvicorn is not installed (`pip install
            'gqlws-testing[live]'`).
    """

    def __init__(
        self,
        application: Any,
        *,
        path: str = "graphql/",
        start_timeout: float = 10.0,
        **uvicorn_options: Any,
    ) -> None:
        try:
            import uvicorn
        except ImportError as exc:  # pragma: no cover (installed with the extra)
            raise ImportError(
                "LiveServer runs uvicorn: pip install 'gqlws-testing[live]'"
            ) from exc
        self.application = application
        self.path = path.lstrip("/")
        self.start_timeout = start_timeout
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((HOST, 0))
        #: The port the server listens on.
        self.port: int = self._socket.getsockname()[1]
        options: dict[str, Any] = {"log_level": "warning", "lifespan": "off", "ws": "auto"}
        options.update(uvicorn_options)
        self._server = uvicorn.Server(uvicorn.Config(application, **options))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """The ws:// URL of the GraphQL endpoint."""
        return self.ws_url(self.path)

    def ws_url(self, path: str = "") -> str:
        """The ws:// URL of another path of the server."""
        return f"ws://{HOST}:{self.port}/{path.lstrip('/')}"

    @property
    def http_url(self) -> str:
        """The http:// URL of the server's root."""
        return f"http://{HOST}:{self.port}/"

    def start(self) -> None:
        """Start serving; returns once the server accepts connections.

        Raises:
            RuntimeError: the server failed to start in time.
        """
        if self._thread is not None:
            raise RuntimeError("the live server is already started")
        self._socket.listen(1024)
        self._thread = threading.Thread(
            target=self._serve, name=f"gqlws-testing live server :{self.port}", daemon=True
        )
        self._thread.start()
        waited = 0.0
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the live server failed to start: {self._error!r}")
            if waited > self.start_timeout:
                self.stop()
                raise RuntimeError(f"the live server did not start within {self.start_timeout} s")
            threading.Event().wait(0.01)
            waited += 0.01

    def stop(self) -> None:
        """Stop serving: close the listening socket and open connections."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._server.should_exit = True
            thread.join(10)
            if thread.is_alive():  # pragma: no cover (uvicorn hung on shutdown)
                self._server.force_exit = True
                thread.join(5)
        self._socket.close()

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def call(self, coroutine: Coroutine[Any, Any, _T], timeout: float | None = 30.0) -> _T:
        """Run a coroutine on the server's event loop and return its result.

        For code that must run where the consumers run, for instance
        `Subscription.broadcast_async(...)` with Channels' in-memory layer,
        whose queues belong to the loop that serves them.

        Args:
            coroutine: the coroutine to run.
            timeout: seconds to wait for it, or None.

        Returns:
            What the coroutine returned.

        Raises:
            RuntimeError: the server is not running.
            TimeoutError: the coroutine did not finish in time.
        """
        loop = self._loop
        if loop is None or self._thread is None:
            coroutine.close()
            raise RuntimeError("the live server is not running")
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the coroutine did not finish within {timeout} s") from None

    async def acall(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """`call()` for asyncio code: awaits instead of blocking the loop.

        Args:
            coroutine: the coroutine to run on the server's loop.

        Returns:
            What the coroutine returned.

        Raises:
            RuntimeError: the server is not running.
        """
        loop = self._loop
        if loop is None or self._thread is None:
            coroutine.close()
            raise RuntimeError("the live server is not running")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))

    def _serve(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await self._server.serve(sockets=[self._socket])

        try:
            asyncio.run(serve())
        except BaseException as exc:  # the thread's end: recorded for start()
            self._error = exc
        finally:
            self._loop = None
