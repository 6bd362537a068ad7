"""`python -m pipeline submit` with the real kfp.Client against a loopback fake of the KFP
v2beta1 REST API (127.0.0.1, ephemeral port, shut down after each test)."""

import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from pipeline.__main__ import main
from pipeline.config import config_to_json, override_config_json
from pipeline.kubeflow.settings import CONFIG_PARAMETERS
from pipeline.kubeflow.submit import SubmitError, load_spec, run_parameters
from tests.conftest import REPO

TOKEN = "s3cr3t-token-Zq9"
API = "/apis/v2beta1"

pytestmark = pytest.mark.timeout(60)


class FakeKfp:
    """Records requests; answers like KFP 2.x. `status`/`html` make every call fail that way."""

    def __init__(self):
        self.requests = []
        self.experiments = []
        self.run_states = []  # one (state, task states) per GET of the run; the last repeats
        self.status = None
        self.html = False
        self.echo_run_headers = False  # answer run creation with 400 and the request's headers
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body, content_type="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append(
                    {
                        "method": method,
                        "path": url.path,
                        "query": urllib.parse.parse_qs(url.query),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                if fake.status:
                    return self._answer(fake.status, {"error": "denied", "code": 16, "message": "denied"})
                if fake.html:
                    return self._answer(200, b"<html><body>Log in</body></html>", "text/html")
                if fake.echo_run_headers and url.path == f"{API}/runs":
                    # Like a misconfigured proxy: the request's headers, and the token once more.
                    echoed = dict(self.headers.items())
                    bearer = self.headers.get("Authorization", "").rpartition(" ")[2]
                    return self._answer(400, {"error": "bad run", "headers": echoed, "token": bearer})
                answer = fake.route(method, url.path, body)
                if answer is None:
                    return self._answer(503, {"error": "unavailable", "code": 14, "message": "unavailable"})
                return self._answer(200, answer)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, method, path, body):
        if path == f"{API}/healthz":
            return {"multi_user": False}
        if path == f"{API}/experiments" and method == "GET":
            return {"experiments": self.experiments, "total_size": len(self.experiments)}
        if path == f"{API}/experiments" and method == "POST":
            experiment = {"experiment_id": f"exp-{len(self.experiments) + 1}", "display_name": body["display_name"]}
            self.experiments.append(experiment)
            return experiment
        if path == f"{API}/runs" and method == "POST":
            return {
                "run_id": "run-1",
                "display_name": body["display_name"],
                "experiment_id": body["experiment_id"],
                "state": "PENDING",
            }
        if path == f"{API}/runs/run-1":
            gets = sum(1 for r in self.requests if r["path"] == path)
            state, tasks = self.run_states[min(gets, len(self.run_states)) - 1]
            if state == "UNAVAILABLE":
                return None
            run = {
                "run_id": "run-1",
                "state": state,
                "run_details": {"task_details": [{"display_name": n, "state": s} for n, s in tasks.items()]},
            }
            if state == "FAILED":
                run["error"] = {"code": 2, "message": "task Trainer failed: OOMKilled"}
            return run
        raise AssertionError(f"unexpected {method} {path}")

    def calls(self):
        return [(r["method"], r["path"]) for r in self.requests]


@pytest.fixture
def kfp_api():
    fake = FakeKfp()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    assert main(["compile", "--config", str(REPO / "pipeline.yaml"), "--output", str(path)]) == 0
    return path


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in (
        "KF_PIPELINES_TOKEN",
        "KF_PIPELINES_COOKIE",
        "KF_PIPELINES_ENDPOINT",
        "KF_PIPELINES_UI_ENDPOINT",
        "KF_PIPELINES_DEFAULT_EXPERIMENT_NAME",
        "KF_PIPELINES_OVERRIDE_EXPERIMENT_NAME",
        "KUBERNETES_SERVICE_HOST",
    ):
        monkeypatch.delenv(name, raising=False)
    # No in-cluster service-account token unless a test puts one there.
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "no-sa-token"))


def submit(spec_path, *args):
    return main(["submit", "--spec", str(spec_path), "--connect-timeout", "5", *args])


def default_value(spec, name):
    return spec["root"]["inputDefinitions"]["parameters"][name]["defaultValue"]


def assert_secret_never_shown(capsys, caplog, *secrets):
    captured = capsys.readouterr()
    shown = captured.out + captured.err + caplog.text
    for secret in secrets:
        assert secret not in shown
    return captured


def test_submit_creates_the_experiment_and_the_run_with_the_inlined_spec(
    kfp_api, spec_path, clean_env, monkeypatch, capsys, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("KF_PIPELINES_TOKEN", TOKEN)
    monkeypatch.setenv("KF_PIPELINES_ENDPOINT", kfp_api.host)  # the host as kfp users set it
    code = submit(
        spec_path,
        "--experiment",
        "distill",
        "--run-name",
        "nightly",
        "--set",
        "training.epochs=3",
        "--set",
        "data.languages=[en, th]",
        "--pipeline-root",
        "gs://other/root",
    )
    captured = assert_secret_never_shown(capsys, caplog, TOKEN)
    assert code == 0, captured.err

    calls = kfp_api.calls()
    assert calls[0] == ("GET", f"{API}/healthz")
    assert ("GET", f"{API}/experiments") in calls
    assert calls.index(("POST", f"{API}/experiments")) < calls.index(("POST", f"{API}/runs"))
    assert all(r["headers"]["authorization"] == f"Bearer {TOKEN}" for r in kfp_api.requests)
    lookup = next(r for r in kfp_api.requests if r["path"] == f"{API}/experiments" and r["method"] == "GET")
    assert json.loads(lookup["query"]["filter"][0])["predicates"][0]["stringValue"] == "distill"

    run = next(r["body"] for r in kfp_api.requests if r["path"] == f"{API}/runs")
    spec = yaml.safe_load(spec_path.read_text())
    assert run["display_name"] == "nightly" and run["experiment_id"] == "exp-1"
    assert run["pipeline_spec"]["root"] == spec["root"]
    assert run["pipeline_spec"]["deploymentSpec"] == spec["deploymentSpec"]
    assert run["runtime_config"]["pipeline_root"] == "gs://other/root"
    # Each override goes to the one parameter carrying its section; the others keep their
    # defaults (not sent), so KFP serves the teacher side from its cache.
    sent = run["runtime_config"]["parameters"]
    # data.languages: the dataset and the rules of the unlabelled rows Augment reads.
    assert set(sent) == {"trainer_config", "dataset_config", "augment_config"}
    trainer, dataset = json.loads(sent["trainer_config"]), json.loads(sent["dataset_config"])
    assert trainer["training"]["epochs"] == 3 and dataset["data"]["languages"] == ["en", "th"]
    default = json.loads(default_value(spec, "trainer_config"))
    assert trainer["student"] == default["student"] and trainer["training"] == {**default["training"], "epochs": 3}

    assert "run id: run-1" in captured.out
    assert f"{kfp_api.host}/#/runs/details/run-1" in captured.out
    assert "artifacts: gs://other/root/pqrnn-distill/run-1/" in captured.out


def test_existing_experiment_is_reused_and_params_pass_through(kfp_api, spec_path, clean_env, tmp_path, capsys):
    kfp_api.experiments.append({"experiment_id": "exp-42", "display_name": "pqrnn-distill"})
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    trainer_config = default_value(yaml.safe_load(spec_path.read_text()), "trainer_config")
    code = submit(
        spec_path,
        "--host",
        kfp_api.host,
        "--token-file",
        str(token_file),
        "--param",
        f"trainer_config={trainer_config}",
    )
    assert code == 0, capsys.readouterr().err
    assert ("POST", f"{API}/experiments") not in kfp_api.calls()
    run = next(r["body"] for r in kfp_api.requests if r["path"] == f"{API}/runs")
    assert run["experiment_id"] == "exp-42"
    assert run["runtime_config"]["parameters"] == {"trainer_config": trainer_config}
    assert kfp_api.requests[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"


def test_wait_follows_the_run_to_success(kfp_api, spec_path, clean_env, capsys):
    kfp_api.run_states = [
        ("RUNNING", {"DatasetGen": "SUCCEEDED", "StatisticsGen": "RUNNING"}),
        ("UNAVAILABLE", {}),  # an API restart while following
        ("RUNNING", {"DatasetGen": "SUCCEEDED", "StatisticsGen": "SUCCEEDED", "ImportSchemaGen": "SUCCEEDED"}),
        ("SUCCEEDED", {name: "SUCCEEDED" for name in yaml.safe_load(spec_path.read_text())["root"]["dag"]["tasks"]}),
    ]
    code = submit(spec_path, "--host", kfp_api.host, "--wait", "--poll-interval", "0.01")
    out = capsys.readouterr().out
    assert code == 0
    assert "RUNNING    1/12 tasks done, running: StatisticsGen" in out
    assert "(status check failed, retrying: 503)" in out
    assert "RUNNING    3/12 tasks done" in out
    assert "SUCCEEDED  12/12 tasks done" in out
    assert "run run-1 succeeded" in out
    assert "authorization" not in kfp_api.requests[0]["headers"]  # no credential configured


def test_wait_exits_1_when_the_run_fails(kfp_api, spec_path, clean_env, capsys):
    kfp_api.run_states = [("FAILED", {"DatasetGen": "SUCCEEDED", "Trainer": "FAILED"})]
    code = submit(spec_path, "--host", kfp_api.host, "--wait", "--poll-interval", "0.01")
    out = capsys.readouterr().out
    assert code == 1
    assert "failed: Trainer" in out
    assert "error: task Trainer failed: OOMKilled" in out
    assert "run run-1 failed" in out


def test_wait_gives_up_after_the_timeout(kfp_api, spec_path, clean_env, capsys):
    kfp_api.run_states = [("RUNNING", {"DatasetGen": "RUNNING"})]
    code = submit(spec_path, "--host", kfp_api.host, "--wait", "--poll-interval", "0.01", "--timeout", "0.2")
    assert code == 1
    assert "run run-1 is still RUNNING after 0 s (--timeout); it keeps running" in capsys.readouterr().err


def test_session_cookie_and_in_cluster_token(kfp_api, spec_path, clean_env, monkeypatch, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    cookie = "authservice_session=c00kie-Secret"
    monkeypatch.setenv("KF_PIPELINES_COOKIE", cookie)
    assert submit(spec_path, "--host", kfp_api.host) == 0
    assert all(r["headers"].get("cookie") == cookie for r in kfp_api.requests)

    monkeypatch.delenv("KF_PIPELINES_COOKIE")
    sa_token = tmp_path / "sa-token"
    sa_token.write_text("in-cluster-Secret")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(sa_token))
    kfp_api.requests.clear()
    assert submit(spec_path, "--host", kfp_api.host) == 0
    assert all(r["headers"]["authorization"] == "Bearer in-cluster-Secret" for r in kfp_api.requests)
    assert_secret_never_shown(capsys, caplog, "c00kie-Secret", "in-cluster-Secret")


@pytest.mark.parametrize(
    "status, expected",
    [
        (401, "rejected the bearer token from $KF_PIPELINES_TOKEN (401 Unauthorized)"),
        (403, "refused access with the bearer token from $KF_PIPELINES_TOKEN (403 Forbidden)"),
        (404, "has no KFP API (404 for /apis/v2beta1/healthz)"),
    ],
)
def test_http_errors_say_which_credential_without_showing_it(
    kfp_api, spec_path, clean_env, monkeypatch, capsys, caplog, status, expected
):
    caplog.set_level(logging.DEBUG)
    kfp_api.status = status
    monkeypatch.setenv("KF_PIPELINES_TOKEN", TOKEN)
    assert submit(spec_path, "--host", kfp_api.host) == 1
    err = assert_secret_never_shown(capsys, caplog, TOKEN).err
    assert err.startswith("submit failed: ") and expected in err
    assert kfp_api.calls() == [("GET", f"{API}/healthz")]  # one try, no run created


def test_401_without_credentials_says_how_to_pass_one(kfp_api, spec_path, clean_env, capsys):
    kfp_api.status = 401
    assert submit(spec_path, "--host", kfp_api.host) == 1
    assert "answered 401 Unauthorized to a request without credentials; pass --token-file F" in capsys.readouterr().err


def test_login_page_instead_of_the_api(kfp_api, spec_path, clean_env, capsys):
    kfp_api.html = True
    assert submit(spec_path, "--host", kfp_api.host) == 1
    assert "answered with a web page, not the KFP API (a login page?) using no credentials" in capsys.readouterr().err


def test_unreachable_host(spec_path, clean_env, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # a port nobody listens on
    assert submit(spec_path, "--host", f"http://127.0.0.1:{port}") == 1
    err = capsys.readouterr().err
    assert (
        f"submit failed: cannot reach the KFP API at http://127.0.0.1:{port}: Failed to establish a new connection"
        in err
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--param", "epochs=3"],
            "--param epochs: the pipeline has no such parameter (it has: augment_config, dataset_config, "
            "teacher_finetune_config, teacher_inference_config, trainer_config)",
        ),
        (["--param", "trainer_config"], "--param 'trainer_config' must look like NAME=VALUE"),
        (
            ["--set", "project.work_dir=/tmp/elsewhere"],
            "--set project.work_dir: no task of this pipeline reads it (its parameters carry: augmentation, data, "
            "distillation, project, student, teacher, training)",
        ),
        (["--set", "trainng.epochs=3"], "config error: trainng: unknown key"),
        (
            ["--param", "trainer_config=not json", "--set", "training.epochs=3"],
            "--param trainer_config: not the JSON of config sections",
        ),
        (
            ["--set", "evaluation.fraction_of_teacher_threshold=0.5"],
            "--set evaluation.fraction_of_teacher_threshold: fixed when the pipeline was compiled; recompile",
        ),
        (["--set", "training.epochs=many"], "config error: training.epochs: expected int, got 'many'"),
        (
            ["--set", "data.paths=[local.jsonl]"],
            "config error: data.paths[0]: 'local.jsonl' is not a gs:// or s3:// URI",
        ),
        (
            ["--pipeline-root", "minio://mlpipeline"],
            "--pipeline-root 'minio://mlpipeline': must be a gs:// or s3:// URI",
        ),
        (["--token-file", "/nonexistent/token"], "cannot read the token file /nonexistent/token"),
    ],
)
def test_usage_errors_exit_2_before_any_request(kfp_api, spec_path, clean_env, capsys, args, expected):
    assert submit(spec_path, "--host", kfp_api.host, *args) == 2
    assert expected in capsys.readouterr().err
    assert kfp_api.requests == []


def test_missing_host(spec_path, clean_env, capsys):
    assert submit(spec_path) == 2
    assert "no KFP endpoint: pass --host URL or set KF_PIPELINES_ENDPOINT" in capsys.readouterr().err


def test_missing_and_invalid_spec_files(tmp_path, clean_env, capsys):
    assert submit(tmp_path / "absent.yaml", "--host", "http://127.0.0.1:9") == 2
    assert f"pipeline spec not found: {tmp_path / 'absent.yaml'} (compile it" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipelineInfo: {name: x}\nroot: {dag: {}}\nnotAField: 1\n")
    assert submit(bad, "--host", "http://127.0.0.1:9") == 2
    assert f"{bad} is not a valid KFP v2 pipeline spec" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("root: [unclosed\n")
    assert submit(broken, "--host", "http://127.0.0.1:9") == 2
    assert f"{broken} is not a valid KFP v2 pipeline spec" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override, expected",
    [
        ("student.qrnn.state_size=96", {"trainer_config"}),
        ("training={epochs: 3}", {"trainer_config"}),
        ("teacher.inference.max_batch_size=32", {"teacher_inference_config"}),
        ("teacher.finetune.max_steps=200", {"teacher_finetune_config"}),
        # Augment reads the base teacher too: its encoder induces the cross-lingual lexicon.
        ("teacher.cache_dir=/cache", {"teacher_finetune_config", "augment_config"}),
        # A whole section replaced, as in pipeline.yaml: what it leaves out takes the defaults.
        (
            "teacher={inference: {max_batch_size: 8}}",
            {"teacher_finetune_config", "teacher_inference_config", "augment_config"},
        ),
        ("augmentation.word_swap=0.5", {"augment_config"}),
        # Of `data`, the unlabelled inputs are Augment's alone; the rest is the dataset's.
        ("data.unlabeled=[{path: gs://b/traffic.jsonl}]", {"augment_config"}),
        ("data.home_assistant.samples_per_template=8", {"dataset_config"}),
        ("project.seed=7", {"dataset_config", "augment_config", "teacher_finetune_config", "trainer_config"}),
    ],
)
def test_set_goes_to_every_parameter_whose_sections_hold_the_key(spec_path, override, expected):
    spec = load_spec(str(spec_path))
    values = run_parameters(spec, [], [override])
    assert set(values) == expected
    for name in expected:
        section_types = dict(CONFIG_PARAMETERS.values())[name]
        default = default_value(spec, name)
        assert values[name] == config_to_json(override_config_json(default, [override]), list(section_types))
        assert values[name] != default


def test_set_edits_the_value_given_by_param(spec_path):
    spec = load_spec(str(spec_path))
    given = json.loads(default_value(spec, "trainer_config"))
    given["training"]["batch_size"] = 8
    values = run_parameters(spec, [f"trainer_config={json.dumps(given)}"], ["training.epochs=3"])
    trainer = json.loads(values["trainer_config"])
    assert trainer["training"]["batch_size"] == 8 and trainer["training"]["epochs"] == 3


@pytest.mark.parametrize("credential", ["token", "cookie"])
def test_a_server_echoing_the_request_headers_never_shows_the_secret(
    kfp_api, spec_path, clean_env, monkeypatch, capsys, caplog, credential
):
    caplog.set_level(logging.DEBUG)
    kfp_api.echo_run_headers = True
    if credential == "token":
        monkeypatch.setenv("KF_PIPELINES_TOKEN", TOKEN)
        secrets = [TOKEN]
    else:
        monkeypatch.setenv("KF_PIPELINES_COOKIE", "authservice_session=c00kie-Secret-77; theme=dark")
        secrets = ["c00kie-Secret-77"]
    assert submit(spec_path, "--host", kfp_api.host) == 1
    err = assert_secret_never_shown(capsys, caplog, *secrets).err
    # The server's answer is still shown, with the secret and header values redacted.
    assert err.startswith("submit failed: the KFP API at ") and "answered 400 Bad Request" in err
    assert '"error": "bad run"' in err
    if credential == "token":
        assert '"authorization": "[redacted]"' in err.lower() and '"token": "[redacted]"' in err
    else:
        assert '"cookie": "[redacted]"' in err.lower()


def test_non_utf8_spec_is_one_line_usage_error(tmp_path, clean_env, capsys):
    spec = tmp_path / "pipeline.yaml"
    spec.write_bytes(b"pipelineInfo: {name: \xff\xfe}\n")
    assert submit(spec, "--host", "http://127.0.0.1:9") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"submit failed: {spec} is not a valid KFP v2 pipeline spec: not UTF-8 text")
    with pytest.raises(SubmitError, match="not UTF-8 text"):
        load_spec(str(spec))


def test_a_spec_compiled_for_kfp_local_is_refused(kfp_api, spec_path, clean_env, tmp_path, capsys):
    spec = yaml.safe_load(spec_path.read_text())
    spec["defaultPipelineRoot"] = str(tmp_path / "root")
    local = tmp_path / "local.yaml"
    local.write_text(yaml.safe_dump(spec))
    assert submit(local, "--host", kfp_api.host, "--pipeline-root", "gs://b/root") == 2
    assert "was compiled with --local-root" in capsys.readouterr().err
    assert kfp_api.requests == []


def test_a_spec_compiled_for_vertex_is_refused(kfp_api, spec_path, clean_env, tmp_path, capsys):
    vertex = tmp_path / "vertex.yaml"
    assert (
        main(["compile", "--config", str(REPO / "pipeline.yaml"), "--target", "vertex", "--output", str(vertex)]) == 0
    )
    capsys.readouterr()
    assert submit(vertex, "--host", kfp_api.host) == 2
    err = capsys.readouterr().err
    assert "was compiled for Vertex AI Pipelines (--target vertex), not for open-source Kubeflow Pipelines" in err
    assert "recompile with python -m pipeline compile --target kfp, or submit it with --vertex" in err
    assert kfp_api.requests == []


def test_the_submitted_spec_is_the_kfp_target(kfp_api, spec_path, clean_env, capsys):
    """What KFP receives has schema titles, never TFX's instance schemas."""
    assert submit(spec_path, "--host", kfp_api.host) == 0
    [create] = [r for r in kfp_api.requests if r["method"] == "POST" and r["path"] == f"{API}/runs"]
    sent = create["body"]["pipeline_spec"]
    assert "instanceSchema" not in json.dumps(sent)
    examples = sent["components"]["Trainer"]["inputDefinitions"]["artifacts"]["examples"]["artifactType"]
    assert examples == {"schemaTitle": "tfx.Examples", "schemaVersion": "0.0.1"}
