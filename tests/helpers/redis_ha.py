"""Real Redis Cluster and Sentinel deployments from Debian's redis-server on free loopback
ports: started by the tests, every process stopped by its own PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from .redis_proc import free_port


def _answers(port: int) -> bool:
    """The process on `port` answers PING (PONG, or NOAUTH when it wants a password)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _server() -> str:
    binary = shutil.which("redis-server")
    assert binary, "redis-server must be installed (make test installs it)"
    return binary


class _Proc:
    """One redis-server (or sentinel) process, by PID."""

    def __init__(self, args: list[str], port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _answers(port):
            assert self.proc.poll() is None, f"redis process on {port} exited at start"
            assert time.monotonic() < deadline, f"redis process on {port} did not start"
            time.sleep(0.02)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL by PID (a crash)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    password: str | None = None  # requirepass of this process

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=5, password=self.password)


class LocalCluster:
    """Three masters (and `replicas` replicas of each), all 16384 slots assigned
    (redis-cli --cluster create)."""

    def __init__(self, workdir: Path, masters: int = 3, replicas: int = 0) -> None:
        self.workdir = workdir
        self.nodes: list[_Proc] = []
        try:
            for _ in range(masters * (1 + replicas)):
                port = free_port()
                d = workdir / f"node-{port}"
                d.mkdir(parents=True)
                self.nodes.append(_Proc([
                    _server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                    "--daemonize", "no", "--loglevel", "warning", "--save", "",
                    "--appendonly", "no", "--cluster-enabled", "yes",
                    "--cluster-config-file", str(d / "nodes.conf"),
                    "--cluster-node-timeout", "2000",
                    # the bus port, else port + 10000 (past 65535 for high free ports)
                    "--cluster-port", str(free_port())], port))
            cli = shutil.which("redis-cli")
            assert cli, "redis-cli must be installed (Debian redis-tools)"
            subprocess.run([cli, "--cluster", "create",
                            *(f"127.0.0.1:{n.port}" for n in self.nodes),
                            "--cluster-replicas", str(replicas), "--cluster-yes"],
                           check=True, capture_output=True, timeout=60)
            deadline = time.monotonic() + 30
            while not all(self._ok(n) for n in self.nodes) or (
                    replicas and not self._replicas_synced()):
                assert time.monotonic() < deadline, "cluster did not reach state ok"
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _ok(n: _Proc) -> bool:
        c = n.client()
        try:
            return "cluster_state:ok" in str(c.execute_command("CLUSTER", "INFO"))
        finally:
            c.close()

    def _replicas_synced(self) -> bool:
        for n in self.nodes:
            c = n.client()
            try:
                info = c.info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") != "up":
                    return False
            finally:
                c.close()
        return True

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{n.port}" for n in self.nodes if n.alive]

    def node_for_slot(self, slot: int) -> _Proc:
        return self.slot_owners()(slot)

    def slot_owners(self) -> Callable[[int], _Proc]:
        """The master of each slot now (one CLUSTER SLOTS), as a lookup function."""
        c = next(n for n in self.nodes if n.alive).client()
        try:
            ranges = [(int(start), int(end), int(master[1])) for start, end, master, *_
                      in c.execute_command("CLUSTER", "SLOTS")]
        finally:
            c.close()
        by_port = {n.port: n for n in self.nodes}

        def owner(slot: int) -> _Proc:
            for start, end, port in ranges:
                if start <= slot <= end:
                    return by_port[port]
            raise AssertionError(f"slot {slot} not served")
        return owner

    def move_slot(self, slot: int, to: _Proc) -> None:
        """Reshard one slot with its keys to `to` (IMPORTING/MIGRATING, MIGRATE, NODE),
        as `redis-cli --cluster reshard` does."""
        src = self.node_for_slot(slot)
        assert src is not to
        ids = {}
        for n in self.nodes:
            c = n.client()
            try:
                ids[n.port] = str(c.execute_command("CLUSTER", "MYID"))
            finally:
                c.close()
        s, t = src.client(), to.client()
        try:
            t.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[src.port])
            s.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[to.port])
            for _ in range(1000):
                keys = s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
                if not keys:
                    break
                s.execute_command("MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS", *keys)
            for n in self.nodes:
                c = n.client()
                try:
                    c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[to.port])
                finally:
                    c.close()
        finally:
            s.close()
            t.close()

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


class LocalSentinel:
    """One primary, one replica and `sentinels` sentinels (quorum 1) watching `master`
    with small timeouts, so a killed primary is replaced within a few seconds. With
    `data_password` the data nodes require it (and the replica and sentinels use it),
    with `sentinel_password` the sentinels require theirs."""

    master = "cs-primary"

    def __init__(self, workdir: Path, sentinels: int = 1, data_password: str | None = None,
                 sentinel_password: str | None = None) -> None:
        self.workdir = workdir
        self.procs: list[_Proc] = []
        self.data_password = data_password
        self.sentinel_password = sentinel_password
        try:
            self.primary = self._data_node(workdir / "primary", None)
            self.replica = self._data_node(workdir / "replica", self.primary.port)
            deadline = time.monotonic() + 20
            while not self._synced():
                assert time.monotonic() < deadline, "replica did not sync"
                time.sleep(0.05)
            self.sentinels = [self._sentinel(workdir / f"sentinel-{i}")
                              for i in range(sentinels)]
            deadline = time.monotonic() + 20
            while not all(self._sees_replica(s) for s in self.sentinels):
                assert time.monotonic() < deadline, "sentinels did not find the replica"
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def _data_node(self, d: Path, replica_of: int | None) -> _Proc:
        d.mkdir(parents=True)
        port = free_port()
        args = [_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                "--daemonize", "no", "--loglevel", "warning", "--save", "",
                "--appendonly", "yes", "--appendfsync", "always"]
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        if self.data_password:
            args += ["--requirepass", self.data_password, "--masterauth", self.data_password]
        p = _Proc(args, port)
        p.password = self.data_password
        self.procs.append(p)
        return p

    def _sentinel(self, d: Path) -> _Proc:
        d.mkdir(parents=True)
        port = free_port()
        conf = d / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {d}\nloglevel warning\n"
            f"sentinel monitor {self.master} 127.0.0.1 {self.primary.port} 1\n"
            f"sentinel down-after-milliseconds {self.master} 500\n"
            f"sentinel failover-timeout {self.master} 2000\n"
            f"sentinel parallel-syncs {self.master} 1\n"
            + (f"sentinel auth-pass {self.master} {self.data_password}\n"
               if self.data_password else "")
            + (f"requirepass {self.sentinel_password}\n" if self.sentinel_password else ""))
        p = _Proc([_server(), str(conf), "--sentinel"], port)
        p.password = self.sentinel_password
        self.procs.append(p)
        return p

    def _synced(self) -> bool:
        c = self.replica.client()
        try:
            info = c.info("replication")
            return info.get("master_link_status") == "up"
        finally:
            c.close()

    def _sees_replica(self, s: _Proc) -> bool:
        c = s.client()
        try:
            return bool(c.execute_command("SENTINEL", "REPLICAS", self.master))
        finally:
            c.close()

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{s.port}" for s in self.sentinels]

    def current_primary_port(self) -> int:
        c = self.sentinels[0].client()
        try:
            _host, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master)
            return int(port)
        finally:
            c.close()

    def stop(self) -> None:
        for p in self.procs:
            p.stop()
