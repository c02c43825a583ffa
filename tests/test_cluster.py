"""A real two-node Ray cluster on one machine, and a study submitted to it with ``ray job submit``.

Each scenario runs inside its own network and PID namespaces (``unshare -n -p -f``): there the
only address is loopback, so both nodes register as 127.0.0.1, nothing is reachable from outside
and nothing outside is disturbed; when the scenario's first process exits, the kernel ends every
process in the namespace, so the cluster is gone also when a test fails or times out. The nodes
are separate ``ray start`` processes with one CPU each, token authentication on (a token made
for the test, passed with RAY_AUTH_MODE / RAY_AUTH_TOKEN_PATH as on a real cluster), and the job
uploads this checkout as its working directory. Skipped where namespaces are not permitted.

A scenario is a function run inside the namespaces by ``run_in_namespace``; the tests only read
what it leaves in its folder. tests/test_faults.py reuses the machinery for node loss and a
killed driver.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pandas as pd
import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
BIN = Path(sys.executable).parent  # the ray CLI of the Python running the tests (.venv in CI)
HEAD_PORT, DASHBOARD_PORT, WORKER_NODE_MANAGER_PORT = 6379, 8265, 6380
EXCLUDES = [".git", ".venv", "reports", "test-artifacts", ".pytest_cache", "__pycache__",
            "*.egg-info", "build"]
TRIALS = 4


# ------------------------------------------------------------------ running a scenario

def namespaces_unavailable() -> str | None:
    """Why network + PID namespaces cannot be made here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if shutil.which("unshare") is None:
        return "util-linux `unshare` is not installed"
    probe = subprocess.run(["unshare", "-n", "-p", "-f", "--mount-proc", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`unshare -n -p -f` is not permitted here: {probe.stderr.strip()}"
    return None


def run_in_namespace(module: str, scenario: str, folder: Path, timeout: float) -> dict:
    """Run ``module.scenario(Cluster)`` as the first process of fresh network + PID namespaces.

    Returns the facts the scenario wrote (facts.json); its log is in folder/scenario.log.
    """
    reason = namespaces_unavailable()
    if reason:
        pytest.skip(reason)
    folder.mkdir(parents=True, exist_ok=True)
    code = (f"import sys; sys.path[:0] = [{str(TESTS)!r}, {str(ROOT)!r}]; "
            f"import test_cluster, {module} as m; "
            f"test_cluster.in_namespace(m.{scenario}, {str(folder)!r})")
    token = folder / "auth_token"  # this cluster's own token, as every node of a real one gets it
    token.write_text(secrets.token_hex(32))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RAY_", "PYTEST_")) and k != "PYTHONPATH"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    cmd = ["unshare", "--kill-child", "-n", "-p", "-f", "--mount-proc", sys.executable, "-c", code]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:  # unshare is killed, and with it the whole namespace
        pytest.fail(f"scenario {scenario} ran over {timeout} s\n{_tail(folder / 'scenario.log')}")
    finally:
        for temp in folder.glob("ray_temp_*"):  # a link to the cluster's (short) temp folder
            shutil.rmtree(temp.resolve(), ignore_errors=True)
            temp.unlink()
    facts_file = folder / "facts.json"
    facts = json.loads(facts_file.read_text()) if facts_file.exists() else {}
    if done.returncode != 0 or "error" in facts:
        pytest.fail(f"scenario {scenario} failed (rc {done.returncode}): {facts.get('error')}\n"
                    f"{done.stderr[-3000:]}\n{_tail(folder / 'scenario.log')}")
    return facts


def _tail(path: Path, n: int = 6000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def in_namespace(scenario, folder: str) -> None:
    """Entry point inside the namespaces (PID 1 there): loopback up, then the scenario."""
    folder = Path(folder)
    facts: dict = {}
    _loopback_up()
    cluster = Cluster(folder)
    try:
        scenario(cluster, facts)
    except BaseException:
        facts["error"] = traceback.format_exc()
    finally:
        (folder / "facts.json").write_text(json.dumps(facts, indent=1, default=str))
    # Returning ends PID 1, and the kernel kills everything still running in the namespace: the
    # whole cluster (`ray stop` would wait on zombies here, as nothing reaps orphans).


def _loopback_up() -> None:
    """``ip link set lo up`` without iproute2 (SIOCGIFFLAGS / SIOCSIFFLAGS)."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))


class Cluster:
    """A head node and a worker node (``ray start``, one CPU each) inside the namespace."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.log = open(folder / "scenario.log", "a", buffering=1)
        # Ray's socket paths must stay short (about 100 characters): not under pytest's tmp_path.
        self.temp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
        (folder / f"ray_temp_{self.temp.name}").symlink_to(self.temp)  # removed by the test
        self.worker_raylet: int | None = None
        self.nodes: dict[str, str] = {}  # role -> node id
        self.t0 = time.time()

    def say(self, text: str) -> None:
        self.log.write(f"[{time.time() - self.t0:6.1f}s] {text}\n")

    def sh(self, *args, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        self.say("$ " + " ".join(map(str, args)))
        done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
        self.log.write(done.stdout[-4000:] + done.stderr[-4000:])
        if check and done.returncode != 0:
            raise RuntimeError(f"{args[:3]} exited with {done.returncode}")
        return done

    def start(self) -> None:
        ray = BIN / "ray"
        # The head declares a node dead after ~2 s of failed health checks (default ~15 s), so
        # the node-loss scenario does not sit waiting.
        fast = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "500",
                "RAY_health_check_failure_threshold": "3"}
        self.sh(ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", HEAD_PORT,
                "--num-cpus", 1, "--dashboard-host", "127.0.0.1", "--dashboard-port",
                DASHBOARD_PORT, "--temp-dir", self.temp, "--disable-usage-stats",
                env={**os.environ, **fast})
        before = set(_pids_named("raylet"))
        # A second node on the same machine shares the head's session folder (its sockets get
        # their own names) but needs its own dashboard-agent port (the default is fixed).
        self.sh(ray, "start", "--address", f"127.0.0.1:{HEAD_PORT}", "--node-ip-address",
                "127.0.0.1", "--num-cpus", 1, "--node-manager-port", WORKER_NODE_MANAGER_PORT,
                "--dashboard-agent-listen-port", 52366, "--disable-usage-stats")
        (self.worker_raylet,) = set(_pids_named("raylet")) - before
        self.nodes = self._wait_for_nodes(2)
        self.say(f"nodes {self.nodes}, worker raylet pid {self.worker_raylet}")

    def _wait_for_nodes(self, n: int, timeout: float = 60) -> dict[str, str]:
        script = ("import json, ray; ray.init(address='127.0.0.1:%d', log_to_driver=False); "
                  "print(json.dumps([[x['NodeID'], x['NodeManagerPort']] for x in ray.nodes() "
                  "if x['Alive']]))" % HEAD_PORT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
            alive = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else []
            if len(alive) >= n:
                return {("worker" if port == WORKER_NODE_MANAGER_PORT else "head"): node
                        for node, port in alive}
            time.sleep(0.5)
        raise TimeoutError(f"{n} nodes did not come up")

    def submit(self, study: Path, out: Path, *extra: str, wait: bool = True,
               timeout: float = 240, report: bool = False) -> subprocess.CompletedProcess | str:
        """``ray job submit`` of ``python -m benchmark run STUDY --out OUT``, as a user would.

        With ``wait`` the CLI follows the job's logs to its end; otherwise the job id is returned.
        Without ``report`` the job skips writing index.html (the fault scenarios do not need it).
        """
        runtime_env = json.dumps({"working_dir": str(ROOT), "excludes": EXCLUDES})
        args = [BIN / "ray", "job", "submit", "--address", f"http://127.0.0.1:{DASHBOARD_PORT}",
                "--runtime-env-json", runtime_env, *([] if wait else ["--no-wait"]), "--",
                sys.executable, "-m", "benchmark", "run", study, "--out", out,
                *([] if report else ["--no-report"]), *extra]
        done = self.sh(*args, check=False, timeout=timeout)
        if wait:
            return done
        return next(w.strip("'\"") for w in done.stdout.split() + done.stderr.split()
                    if w.strip("'\"").startswith("raysubmit_"))

    def client(self):
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(f"http://127.0.0.1:{DASHBOARD_PORT}")

    def wait_job(self, job_id: str, timeout: float = 240) -> str:
        client, deadline = self.client(), time.time() + timeout
        while time.time() < deadline:
            status = str(client.get_job_status(job_id)).split(".")[-1]
            if status in ("SUCCEEDED", "FAILED", "STOPPED"):
                self.say(f"job {job_id}: {status}")
                self.log.write(client.get_job_logs(job_id)[-3000:] + "\n")
                return status
            time.sleep(0.3)
        raise TimeoutError(f"job {job_id} did not end")

    def driver_pid(self, job_id: str, timeout: float = 60) -> int:
        client, deadline = self.client(), time.time() + timeout
        while time.time() < deadline:
            info = client.get_job_info(job_id)
            if info.driver_info is not None and info.driver_info.pid:
                return int(info.driver_info.pid)
            time.sleep(0.2)
        raise TimeoutError("the job's driver did not start")

def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def tiny_study(folder: Path, trials: int = TRIALS, rows: int = 90, name: str = "tiny") -> Path:
    from helpers import write_csv_dataset, write_study

    ds = write_csv_dataset(folder, n=rows, groups=rows // 10)
    return write_study(folder, [ds.name], ["logreg", "naive_bayes", "knn"], trials=trials,
                       name=name)


def assert_exact_budgets(trials: pd.DataFrame, cells: int, budget: int) -> None:
    """Every cell holds exactly its budget of trials, numbered 0..budget-1, none twice."""
    counts = trials.groupby(["dataset", "outer_fold", "learner"]).trial.agg(["count", "nunique", "max"])
    assert len(counts) == cells, counts
    assert (counts["count"] == budget).all() and (counts["nunique"] == budget).all(), counts
    assert (counts["max"] == budget - 1).all(), counts
    assert not trials.duplicated(["dataset", "outer_fold", "learner", "trial"]).any()


# ------------------------------------------------------------------ the scenario and its test

def job_on_two_nodes(cluster: Cluster, facts: dict) -> None:
    study = tiny_study(cluster.folder)
    cluster.start()
    facts["nodes"] = cluster.nodes
    done = cluster.submit(study, cluster.folder / "cluster_run", report=True)
    facts["submit_rc"] = done.returncode
    facts["submit_output"] = (done.stdout + done.stderr)[-3000:]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    facts = run_in_namespace("test_cluster", "job_on_two_nodes", folder, timeout=240)
    return folder, facts


def test_job_submitted_to_a_two_node_cluster_runs_on_both(cluster_run):
    folder, facts = cluster_run
    assert facts["submit_rc"] == 0, facts["submit_output"]
    assert "succeeded" in facts["submit_output"]
    trials = pd.read_parquet(folder / "cluster_run" / "trials.parquet")
    assert_exact_budgets(trials, cells=3 * 2, budget=TRIALS)
    assert set(trials.node_id) == set(facts["nodes"].values())  # both nodes ran trials
    assert (trials.groupby(["outer_fold", "learner"]).node_id.nunique() == 1).all()  # a cell stays put


def test_cluster_run_scores_equal_a_local_run(cluster_run, ray_local, tmp_path):
    from benchmark.runner import execute, prepare

    folder, facts = cluster_run
    local = tmp_path / "local"
    execute(prepare(str(folder / "tiny.yaml")), local)  # the same study and seed, one machine
    pd.testing.assert_frame_equal(pd.read_parquet(local / "scores.parquet"),
                                  pd.read_parquet(folder / "cluster_run" / "scores.parquet"))
    cluster = pd.read_parquet(folder / "cluster_run" / "trials.parquet")
    mine = pd.read_parquet(local / "trials.parquet")
    keys = ["dataset", "outer_fold", "learner", "trial", "state", "config", "value"]
    pd.testing.assert_frame_equal(mine[keys], cluster[keys])  # the same trials, trial for trial
    assert (folder / "cluster_run" / "index.html").exists()
    assert report_content(folder / "cluster_run") == report_content(local)  # the same report
    for table in ("predictions.parquet", "controls.parquet", "importance.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(local / table),
                                      pd.read_parquet(folder / "cluster_run" / table))


def report_content(run_dir: Path) -> dict:
    """What the report says, without timings and hardware: verdicts, tuning gains, the
    counterfactual, and every check's findings (their refits ran as Ray tasks on both nodes)."""
    from benchmark.report import analyse, context, load_run

    a = analyse(load_run(run_dir))
    checks = json.loads((run_dir / "checks.json").read_text())
    assert checks.get("enabled") and "error" not in checks, checks.get("error")
    return {"verdicts": context.verdict_cards(a), "tuning": context.tuning_rows(a),
            "counterfactual": context.counterfactual_rows(a),
            "findings": {d: e["findings"] for d, e in checks["datasets"].items()},
            "best": {d: e.get("best") for d, e in checks["datasets"].items()}}


# ------------------------------------------------------------------ the embedded default is private

EMBEDDED = """
import os, sys
sys.path.insert(0, {root!r})
from benchmark.ray_session import Session
with Session(num_cpus=1):
    import ray
    from ray._raylet import AuthenticationMode, get_authentication_mode
    ray.get(ray.remote(lambda: os.getpid()).remote())  # a worker process is up too
    print(ray.get_runtime_context().gcs_address, get_authentication_mode() == AuthenticationMode.TOKEN,
          flush=True)
    sys.stdin.readline()  # the test looks around, then lets the session end
"""

CONNECT = """
from ray._raylet import GcsClient
GcsClient(address={gcs!r}).internal_kv_get(b"x", namespace=None, timeout=10)
print("connected")
"""


def _listening(pids: set[int]) -> list[tuple[int, str, str]]:
    """(pid, protocol, local address) of every listening TCP / unbound-peer UDP socket of ``pids``
    (what ``ss -ltnup`` shows, read from /proc so that iproute2 is not needed)."""
    import ipaddress

    inodes = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        for row in Path(f"/proc/net/{proto}").read_text().splitlines()[1:]:
            cols = row.split()
            local, remote, state, inode = cols[1], cols[2], cols[3], cols[9]
            listening = state == "0A" if proto.startswith("tcp") else int(remote.split(":")[1], 16) == 0
            if not listening or inode not in inodes:
                continue
            raw, port = local.split(":")
            words = [bytes.fromhex(raw[i:i + 8])[::-1] for i in range(0, len(raw), 8)]
            ip = ipaddress.ip_address(b"".join(words))
            found.append((inodes[inode], proto, f"{ip}:{int(port, 16)}"))
    return found


def _is_loopback(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address.rsplit(":", 1)[0])
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def test_embedded_ray_listens_on_loopback_only_with_token_auth():
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    proc = subprocess.Popen([sys.executable, "-c", EMBEDDED.format(root=str(ROOT))], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        line = proc.stdout.readline().split()
        assert len(line) == 2, proc.stderr.read() if proc.poll() is not None else line
        gcs, token_mode = line
        ours = {proc.pid, *_children(proc.pid)}  # the driver and every Ray process it started
        sockets = _listening(ours)
        assert len(ours) >= 4 and len(sockets) >= 3  # gcs, raylet, workers ... were found
        assert [s for s in sockets if not _is_loopback(s[2])] == []
        assert token_mode == "True"
        for mode in ("disabled", "token"):  # no token, then a wrong one: refused
            bad = subprocess.run([sys.executable, "-c", CONNECT.format(gcs=gcs)], text=True,
                                 capture_output=True, timeout=60,
                                 env={**env, "RAY_AUTH_MODE": mode, "RAY_AUTH_TOKEN": "not-it"})
            assert bad.returncode != 0 and "Unauthenticated" in bad.stderr, bad.stderr[-2000:]
        good = subprocess.run([sys.executable, "-c", CONNECT.format(gcs=gcs)], text=True,
                              capture_output=True, timeout=60, env={**env, "RAY_AUTH_MODE": "token"})
        assert "connected" in good.stdout, good.stderr[-2000:]  # the session's own token works
    finally:
        proc.communicate("\n", timeout=60)
        try:  # anything of this session still alive (it should not be)
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass


def _children(root: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


# ------------------------------------------------------------------ no thread oversubscription

def test_threads_inside_a_cell_follow_cpus_per_trial(ray_local, tmp_path):
    """BLAS/OpenMP pools and torch's threads, as seen by the code running a cell in a Ray worker,
    equal ``resources.cpus_per_trial`` (each cell records them with its outer evaluation)."""
    from benchmark.ray_session import probe_threads
    from benchmark.runner import execute, prepare
    from benchmark.store import Store, default_url
    from helpers import write_csv_dataset, write_study

    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name], ["logreg", "mlp"], trials=1,
                        extra="resources: {cpus_per_trial: 2}\n")
    execute(prepare(str(study)), tmp_path / "run")
    seen = {outer.cell.learner: outer.threads
            for outer in Store(default_url(tmp_path / "run")).outer_evaluations()}
    assert set(seen) == {"logreg", "mlp"}
    for learner, threads in seen.items():
        assert threads["blas"] == [2] and set(threads["openmp"]) <= {2}, (learner, threads)
        assert threads["OMP_NUM_THREADS"] == "2"
    assert seen["mlp"]["torch"] == 2
    for cpus in (1, 2):  # and straight from a task asking for that many CPUs
        threads = probe_threads(cpus)
        assert threads["blas"] == [cpus] and set(threads["openmp"]) <= {cpus}, threads
        assert threads["torch"] == cpus and threads["OMP_NUM_THREADS"] == str(cpus)


# ------------------------------------------------------------------ GPUs: deep cells wait, CPUs do not

GPU_RUN = """
import json, os, sys
sys.path[:0] = [{tests!r}, {root!r}]
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
import ray
ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, _node_ip_address="127.0.0.1",
         log_to_driver=False, configure_logging=False)  # a logical GPU: torch still finds none
from benchmark import ray_session
from benchmark.runner import execute, prepare
sizes = []
windows = ray_session.Session._windows
def spy(self):
    sizes.append(windows(self))
    return sizes[-1]
ray_session.Session._windows = spy
execute(prepare({study!r}), {out!r})
print(json.dumps(sizes))
"""


def test_deep_cells_queue_for_gpus_without_holding_back_classical_ones(tmp_path):
    """With GPUs, deep cells ask for ``gpus_per_deep_trial`` and have their own window (twice
    the deep trials the GPUs hold); the run still ends with every cell's exact budget."""
    import subprocess

    from benchmark import results
    from helpers import write_csv_dataset, write_study

    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name, "breast_cancer"], ["mlp", "naive_bayes", "logreg"],
                        trials=2, extra="resources: {gpus_per_deep_trial: 1}\n"
                        "checks: {enabled: false}\n")
    out = tmp_path / "run"
    code = GPU_RUN.format(tests=str(TESTS), root=str(ROOT), study=str(study), out=str(out))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    sizes = json.loads(done.stdout.strip().splitlines()[-1])
    assert sizes and all(s == [4, 2] for s in sizes), sizes  # 2 CPUs -> 4; 1 GPU / 1 -> 2
    trials, scores, manifest = results.load(out)
    assert manifest["status"] == "complete" and manifest["ray"]["gpus"] is True
    assert_exact_budgets(trials, cells=2 * 2 * 3, budget=2)
    assert scores.value.notna().all()
