"""Start and stop the six services, one or more instances each, as OS processes against
one broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from chainctl.acls import password_variable, principal
from chainctl.processes import spawn, stop

SERVICES = ("bvv", "screening", "europaloket", "asylum", "reception", "returns")


class ChainError(RuntimeError):
    """A service did not start or died."""


class Chain:
    def __init__(
        self,
        bootstrap_servers: str,
        data_dir: Path,
        seconds_per_day: float = 0.1,
        seed: int | None = None,
        extra_env: dict[str, str] | None = None,
        services: tuple[str, ...] = SERVICES,
        python: str = sys.executable,
        instances: Mapping[str, int] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.services = services
        self.python = python  # the interpreter whose environment has the services installed
        # Instance name -> service: `bvv` for the first instance, `bvv-2` for the next.
        self.instances = {
            name if n == 1 else f"{name}-{n}": name
            for name in services
            for n in range(1, (instances or {}).get(name, 1) + 1)
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            **os.environ,
            "MK_BOOTSTRAP_SERVERS": bootstrap_servers,
            "MK_DATA_DIR": str(data_dir),
            "MK_CLOCK_EPOCH": repr(time.time()),
            "MK_CLOCK_SECONDS_PER_DAY": repr(seconds_per_day),
            "PYTHONUNBUFFERED": "1",
            **({"MK_SEED": str(seed)} if seed is not None else {}),
            **(extra_env or {}),
        }

    def log_path(self, service: str) -> Path:
        return self.data_dir / "logs" / f"{service}.log"

    def start(self, service: str | None = None) -> None:
        """Start every instance, or the one named (`bvv`, or `bvv-2` for a second)."""
        for name in (service,) if service else self.instances:
            (self.data_dir / "ready" / name).unlink(missing_ok=True)
            env = {
                **self.env,
                "MK_INSTANCE": name,
                **self.metrics_env(name),
                **self.login_env(self.instances[name]),
            }
            self.processes[name] = spawn(
                [self.python, "-m", self.instances[name]], env, self.log_path(name)
            )

    def metrics_env(self, instance: str) -> dict[str, str]:
        """With MK_METRICS_PORT set, each instance its own Prometheus port, counting up."""
        base = self.env.get("MK_METRICS_PORT")
        if not base:
            return {}
        return {"MK_METRICS_PORT": str(int(base) + list(self.instances).index(instance))}

    def login_env(self, service: str) -> dict[str, str]:
        """On a broker with SASL, each service logs in as its own principal, with the
        password in MK_PASSWORD_<PRINCIPAL> (the variables infra/kafka/acls.sh reads)."""
        if self.env.get("MK_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") == "PLAINTEXT":
            return {}
        user = principal(service)
        variable = password_variable(user)
        if not self.env.get(variable):
            raise ChainError(f"{variable} is not set: {service} logs in to Kafka as {user}")
        return {"MK_KAFKA_USERNAME": user, "MK_KAFKA_PASSWORD": self.env[variable]}

    def wait_ready(self, timeout: float = 60.0, service: str | None = None) -> float:
        """Block until the instances report ready; return the seconds it took."""
        started = time.monotonic()
        waiting = {service} if service else set(self.instances)
        while waiting:
            self.check_alive()
            waiting = {s for s in waiting if not (self.data_dir / "ready" / s).exists()}
            if time.monotonic() - started > timeout:
                raise ChainError(f"not ready after {timeout:.0f}s: {', '.join(sorted(waiting))}")
            time.sleep(0.05)
        return time.monotonic() - started

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                tail = self.tail(name)
                raise ChainError(
                    f"service {name} exited with code {proc.returncode}; last log lines:\n{tail}"
                )

    def tail(self, service: str, lines: int = 15) -> str:
        path = self.log_path(service)
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text("utf-8", "replace").splitlines()[-lines:])

    def kill(self, service: str) -> None:
        """SIGKILL one service (no clean shutdown), as a crash would."""
        proc = self.processes.pop(service)
        proc.kill()
        proc.wait()

    def stop(self) -> None:
        stop(list(self.processes.values()))
        self.processes.clear()

    def __enter__(self) -> Chain:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
