#!/usr/bin/env python3
"""incident-app: the incident's stack in miniature, to point `readysim real --app` at.

Starlette on uvicorn, redis-py's asyncio client, one worker. Written from readysim's documented
model (docs/model.md: startup phases, the Redis manager, the p0 validator, the f1 accept
route), not from the team's code. The validator has the two behaviours the model says matter:

* by default the redis probe calls ``is_connected()`` although it is a property: the call
  raises ``TypeError``, the probe catches it, logs it at DEBUG and counts "not ready". With the
  linear poll of 5 retries x 1.5 s in GCP every start fails after 7.51 s;
* ``--fixed``: the probe reads the property, a ready probe is followed by an async 500 ms
  grace, and the circular websocket-integration check is gone: startup is ready.

``--probe``, ``--grace`` and ``--circular-check`` set the three separately.

The service has no database and no other services: their phases are sleeps whose lengths
come from ``READYSIM_STARTUP_*_MS`` (readysim exports a scenario's startup fields; the model's
defaults otherwise), measured from the process's start, so the interpreter's imports do not
shift them.
"""

import time

T0 = time.monotonic()  # the process's start, as near as Python can tell

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

import redis.asyncio as aioredis  # noqa: E402
import uvicorn  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402
from redis.asyncio.retry import Retry  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket, WebSocketDisconnect  # noqa: E402

log = logging.getLogger("incident_app")


def env_ms(name, default):
    """A scenario time readysim exported (``READYSIM_<FIELD>``), or the model's default."""
    return int(os.environ.get("READYSIM_" + name, default))


def now_ms():
    """Milliseconds since the process started: the scenario's clock."""
    return (time.monotonic() - T0) * 1000.0


async def sleep_ms(ms):
    await asyncio.sleep(ms / 1000.0)


PHASES_MS = {
    name: env_ms("STARTUP_" + name.upper() + "_MS", default)
    for name, default in [
        ("init", 0),
        ("dependencies", 0),
        ("database", 519),
        ("cache", 10),
        ("services", 1619),
        ("websocket", 9),
        ("finalize", 0),
        ("probe_cost", 1),
    ]
}
READY_AT_MS = {
    name: env_ms("SERVICES_" + name.upper() + "_READY_AT_MS", 0)
    for name in ["database", "auth", "agent_supervisor", "websocket_bridge"]
}

# The manager's constants (the model's defaults).
PING_TIMEOUT_S = 5.0
GET_CLIENT_PING_TIMEOUT_S = 0.1
HEALTH_INTERVAL_S = 30.0
BREAKER_FAILURES = 5
BREAKER_RECOVERY_S = 60.0


class RedisManager:
    """The Redis manager: one client, a connect lock, a reconnect task, a health task."""

    def __init__(self, url):
        self.url = url
        self._client = None
        self._connected = False
        self.failures = 0
        self.consecutive = 0
        self.last_failure = None
        self.retry_delay_s = 1.0
        self.lock = asyncio.Lock()
        self.tasks = []

    @property
    def is_connected(self):
        """A property: calling it, ``is_connected()``, raises TypeError (the incident)."""
        return self._connected and self._client is not None

    def breaker_allows(self):
        if self.consecutive < BREAKER_FAILURES:
            return True
        return time.monotonic() - self.last_failure > BREAKER_RECOVERY_S

    def _failure(self):
        self.failures += 1
        self.consecutive += 1
        self.last_failure = time.monotonic()

    async def _drop(self):
        old, self._client, self._connected = self._client, None, False
        if old is not None:
            with contextlib.suppress(Exception):
                await old.aclose()

    async def connect(self):
        """One attempt through the lock; a waiter uses the connection its holder left."""
        if self.lock.locked():
            async with self.lock:
                if self.is_connected:
                    return True
                return await self._attempt()
        async with self.lock:
            return await self._attempt()

    async def _attempt(self):
        await self._drop()
        client = aioredis.Redis.from_url(
            self.url,
            single_connection_client=True,
            socket_connect_timeout=PING_TIMEOUT_S,
            socket_timeout=PING_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            await asyncio.wait_for(client.ping(), PING_TIMEOUT_S)
        except Exception as e:  # refused, reset, timed out: a failed attempt
            log.info("redis connect failed: %r", e)
            with contextlib.suppress(Exception):
                await client.aclose()
            self._failure()
            return False
        self._client, self._connected = client, True
        self.failures = 0
        self.consecutive = 0
        self.retry_delay_s = 1.0
        log.info("redis connected at %.0f ms", now_ms())
        return True

    async def initialize(self):
        """One attempt (never raises), then the background tasks."""
        await self.connect()
        self.tasks = [
            asyncio.create_task(self._reconnect_task()),
            asyncio.create_task(self._health_task()),
        ]

    async def _reconnect_task(self):
        while True:
            if not self._connected and self.failures > 0:
                if self.failures <= 10:
                    if not await self.connect():
                        self.retry_delay_s = min(self.retry_delay_s * 2, 60.0)
                        await asyncio.sleep(self.retry_delay_s)
                else:
                    await asyncio.sleep(300.0)
                    self.failures = 1
                    self.retry_delay_s = 1.0
            else:
                await asyncio.sleep(30.0)

    async def _health_task(self):
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            if not self.is_connected:
                continue
            try:
                await asyncio.wait_for(self._client.ping(), PING_TIMEOUT_S)
            except Exception:
                self._connected = False
                self._failure()

    async def get_client(self):
        """None when the breaker blocks; a slow or failed ping drops the client; then an
        inline attempt whenever there is no connected client."""
        if not self.breaker_allows():
            return None
        if self._client is not None:
            try:
                await asyncio.wait_for(self._client.ping(), GET_CLIENT_PING_TIMEOUT_S)
            except Exception:
                await self._drop()
        if self.is_connected or await self.connect():
            return self._client
        return None

    async def incr(self, key):
        """A message's data operation; False is the silent default."""
        client = await self.get_client()
        if client is None:
            return False
        try:
            await asyncio.wait_for(client.incr(key), PING_TIMEOUT_S)
        except Exception:
            self._connected = False
            self._failure()
            return False
        self.consecutive = 0
        return True

    async def close(self):
        for t in self.tasks:
            t.cancel()
        await self._drop()


# The validator: the v0 constants in GCP (retries, delay ms), three phases.
CHECKS = {
    "database": (8, 2000),
    "redis": (5, 1500),
    "auth": (3, 1000),
    "agent_supervisor": (10, 2000),
    "websocket_bridge": (5, 1000),
    "websocket_integration": (3, 1000),
}
PHASES = [
    (["database", "redis", "auth"], 60000),
    (["agent_supervisor", "websocket_bridge"], 60000),
    (["websocket_integration"], 30000),
]


class Validator:
    def __init__(self, manager, state, opts):
        self.manager = manager
        self.state = state
        self.opts = opts

    async def probe(self, name):
        if name == "redis":
            try:
                if self.opts.probe == "faithful":
                    ready = self.manager.is_connected
                else:
                    ready = self.manager.is_connected()  # the incident's call
            except Exception as e:
                log.debug("redis probe raised: %s", e)
                ready = False
        elif name == "websocket_integration":
            # The circular check waits on state only the end of startup sets.
            ready = self.state["startup_complete"] or self.opts.circular_check == "off"
        else:
            ready = now_ms() >= READY_AT_MS[name]
        await sleep_ms(PHASES_MS["probe_cost"])
        return ready

    async def check(self, name, group_ms):
        retries, delay_ms = CHECKS[name]
        start = now_ms()
        for k in range(retries + 1):
            if await self.probe(name):
                if name == "redis" and self.opts.grace == "async":
                    await sleep_ms(500)
                return True
            if k < retries:
                await sleep_ms(delay_ms)
            if now_ms() - start > group_ms:
                break
        return False

    async def run(self):
        """(ready, elapsed ms, failed services)."""
        start = now_ms()
        if os.environ.get("ENVIRONMENT", "development") not in ("production", "staging"):
            log.info("not GCP: readiness validation skipped")
            return True, 0, []
        failed = []
        for checks, group_ms in PHASES:
            for name in checks:
                if not await self.check(name, group_ms):
                    failed.append(name)
            if failed:
                break
        return not failed, round(now_ms() - start), failed


def seconds_2dp(ms):
    centis = ms // 10 + (1 if ms % 10 >= 5 else 0)
    return "%d.%02d" % (centis // 100, centis % 100)


# The f1 route's user-ID check (v0): a UUID, a listed pattern, or user_<digits>_<hex8>.
LIST_A = re.compile(
    r"\A(?:test-user-\d+|test-connection-\d+|test-session-[A-Za-z0-9-]+|mock-[A-Za-z]+-\w+"
    r"|concurrent_user_\d+|user_\d+|[A-Za-z]+-[A-Za-z]+-\d+|[A-Za-z]+_\d+"
    r"|[A-Za-z]+_[A-Za-z]+_\d+|non_existent_\w+|invalid_\w+|fake_\w+|dummy_\w+"
    r"|sample_\w+|ssot-[A-Za-z]+-\w+)\Z"
)


def user_id_ok(user_id):
    with contextlib.suppress(ValueError):
        uuid.UUID(user_id)
        return True
    if LIST_A.match(user_id):
        return True
    parts = user_id.split("_")
    return (
        len(parts) >= 3
        and parts[0] == "user"
        and parts[-2].isdigit()
        and re.fullmatch(r"[0-9a-fA-F]{8}", parts[-1]) is not None
    )


MANAGER_LIMIT = 20


def build_app(opts):
    state = {"gcp_websocket_ready": False, "startup_complete": False}
    manager = RedisManager(os.environ["REDIS_URL"])
    managers = {}  # user id -> number of managers created (f1 never releases them)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        p = PHASES_MS
        late = now_ms() - (p["init"] + p["dependencies"] + p["database"])
        if late > 0:
            log.warning("imports ran %.0f ms past phase DATABASE's end", late)
        await sleep_ms(p["init"] + p["dependencies"] + p["database"] - now_ms())
        await manager.initialize()  # phase CACHE
        await sleep_ms(p["cache"])
        await sleep_ms(p["services"])
        await sleep_ms(p["websocket"])
        ready, elapsed, failed = await Validator(manager, state, opts).run()
        if not ready:
            message = (
                "GCP WebSocket readiness validation failed. Failed services: [%s]. "
                "State: failed. Elapsed: %ss. This will cause 1011 WebSocket errors in GCP "
                "Cloud Run." % (", ".join(failed), seconds_2dp(elapsed))
            )
            log.error(message)
            await manager.close()
            raise RuntimeError(message)
        state["gcp_websocket_ready"] = True
        await sleep_ms(p["finalize"])
        state["startup_complete"] = True
        log.info("startup complete at %.0f ms", now_ms())
        yield
        await manager.close()

    async def ready(request):
        if state["startup_complete"]:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def error_frame(ws, what):
        await ws.send_text(json.dumps({"type": "error", "error": what}))

    async def websocket(ws: WebSocket):
        user_id = ws.headers.get("x-user-id", "").strip()
        token = ws.headers.get("authorization", "").removeprefix("Bearer ").strip()
        await ws.accept()
        if token == "invalid":
            await error_frame(ws, "auth")
            await asyncio.sleep(0.1)
            await ws.close(1008, "SSOT Auth failed")
            return
        if managers.get(user_id, 0) >= MANAGER_LIMIT:
            await error_frame(ws, "factory")
            await ws.close(1011, "Factory SSOT validation failed")
            return
        managers[user_id] = managers.get(user_id, 0) + 1
        if not user_id_ok(user_id):
            await error_frame(ws, "user id")
            await asyncio.sleep(0.1)
            await ws.close(1011, "Internal error")
            return
        await ws.send_text(json.dumps({"type": "connection_established", "user_id": user_id}))
        try:
            while True:
                msg = json.loads(await ws.receive_text())
                # A failed write is the silent default: the reply says handled either way.
                await manager.incr("messages:" + user_id)
                await ws.send_text(json.dumps({"type": "reply", "n": msg.get("n")}))
        except WebSocketDisconnect:
            return

    return Starlette(
        routes=[Route("/health/ready", ready), WebSocketRoute("/ws", websocket)],
        lifespan=lifespan,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    ap.add_argument("--probe", choices=["property-call", "faithful"], default="property-call")
    ap.add_argument("--grace", choices=["none", "async"], default="none")
    ap.add_argument("--circular-check", choices=["on", "off"], default="on")
    ap.add_argument(
        "--fixed",
        action="store_true",
        help="the corrected validator: --probe faithful --grace async --circular-check off",
    )
    opts = ap.parse_args()
    if opts.fixed:
        opts.probe, opts.grace, opts.circular_check = "faithful", "async", "off"
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("APP_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Bound before startup, as gunicorn does: connections during startup wait in the backlog.
    bind_at = env_ms("SERVER_BIND_MS", 0)
    if now_ms() < bind_at:
        time.sleep((bind_at - now_ms()) / 1000.0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", opts.port))
    sock.listen(2048)
    config = uvicorn.Config(
        build_app(opts),
        lifespan="on",
        ws="websockets",
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        log_level="info",
    )
    server = uvicorn.Server(config)
    asyncio.run(server.serve(sockets=[sock]))
    if not server.started:
        sys.exit(3)


if __name__ == "__main__":
    main()
