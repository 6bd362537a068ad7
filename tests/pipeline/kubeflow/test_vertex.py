"""`python -m pipeline submit --vertex` with the real aiplatform.PipelineJob against a loopback fake
of the Vertex AI REST API (127.0.0.1, ephemeral port, shut down after each test). The same fake
is the OAuth token endpoint of a service account key file (GOOGLE_APPLICATION_CREDENTIALS, with
a key made for the test) and the Cloud Storage endpoint (STORAGE_EMULATOR_HOST) that PipelineJob
checks the pipeline root's bucket with, and of google-auth's access boundary lookup; only the
project number that bucket check compares with (a Resource Manager call) is stubbed."""

import json
import logging
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from pipeline.__main__ import main
from tests.conftest import REPO

ACCESS_TOKEN = "ya29.s3cr3t-access-Zq9"
JOBS = "/v1/projects/p/locations/us-central1/pipelineJobs"
PROJECT_NUMBER = "123456"
# Vertex names a created job by the project's number, not its id; the SDK then reads it there.
JOBS_BY_NUMBER = f"/v1/projects/{PROJECT_NUMBER}/locations/us-central1/pipelineJobs"

pytestmark = pytest.mark.timeout(60)


class FakeVertex:
    """Records requests; answers like the Vertex AI v1 REST API. `status` makes job calls fail."""

    def __init__(self):
        self.requests = []
        self.job_states = []  # one (state, task states) per GET of the job; the last repeats
        self.status = None
        self.token_status = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                url = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = url.path == "/token"
                body = urllib.parse.parse_qs(raw.decode()) if form else (json.loads(raw) if raw else None)
                fake.requests.append(
                    {
                        "method": method,
                        "path": url.path,
                        "query": urllib.parse.parse_qs(url.query),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                status, answer = fake.route(method, url.path, body)
                self._answer(status, answer)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route(self, method, path, body):
        if path == "/token":
            if self.token_status:
                return self.token_status, {"error": "invalid_grant", "error_description": "Bad Request"}
            return 200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        if path.endswith("/allowedLocations"):  # google-auth's lookup for service accounts
            return 200, {"locations": [], "encodedLocations": "0x0"}
        if path.startswith("/storage/v1/b/"):
            return 200, {"name": path.split("/")[4], "projectNumber": PROJECT_NUMBER}
        if self.status:
            # Like a proxy that echoes the request's credential.
            message = f"denied: Authorization: Bearer {ACCESS_TOKEN}"
            return self.status, {"error": {"code": self.status, "message": message, "status": "PERMISSION_DENIED"}}
        if path == JOBS and method == "POST":
            return 200, {**body, "name": f"{JOBS_BY_NUMBER[4:]}/{self.job_id()}", "state": "PIPELINE_STATE_PENDING"}
        if path.startswith(JOBS_BY_NUMBER + "/") and method == "GET":
            gets = sum(1 for r in self.requests if r["path"] == path)
            state, tasks = self.job_states[min(gets, len(self.job_states)) - 1]
            if state == "UNAVAILABLE":
                return 503, {"error": {"code": 503, "message": "unavailable", "status": "UNAVAILABLE"}}
            job = {
                "name": path[4:],
                "state": f"PIPELINE_STATE_{state}",
                "jobDetail": {"taskDetails": [{"taskName": n, "state": s} for n, s in tasks.items()]},
            }
            if state == "FAILED":
                job["error"] = {"code": 9, "message": "The DAG failed because some tasks failed: Trainer"}
            return 200, job
        raise AssertionError(f"unexpected {method} {path}")

    def job_id(self):
        [create] = self.created()
        return create["query"]["pipelineJobId"][0]

    def created(self):
        return [r for r in self.requests if r["method"] == "POST" and r["path"] == JOBS]


@pytest.fixture(scope="module")
def private_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


@pytest.fixture
def vertex_api(monkeypatch, tmp_path, private_key):
    fake = FakeVertex()
    fake.thread.start()
    key_file = tmp_path / "key.json"
    key_file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": "k1",
                "private_key": private_key,
                "client_email": "submitter@p.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"{fake.endpoint}/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.endpoint)
    from google.cloud.aiplatform.utils import resource_manager_utils
    from google.oauth2 import service_account

    lookup = f"{fake.endpoint}/v1/projects/-/serviceAccounts/submitter/allowedLocations"
    monkeypatch.setattr(
        service_account.Credentials, "_build_regional_access_boundary_lookup_url", lambda *a, **k: lookup
    )

    monkeypatch.setattr(resource_manager_utils, "get_project_number", lambda *args, **kwargs: PROJECT_NUMBER)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)


@pytest.fixture(scope="module")
def vertex_spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("vertex") / "pipeline.yaml"
    assert main(["compile", "--config", str(REPO / "pipeline.yaml"), "--target", "vertex", "--output", str(path)]) == 0
    return path


def submit(fake, spec, *args):
    base = ["submit", "--vertex", "--spec", str(spec), "--project", "p", "--region", "us-central1"]
    return main([*base, "--api-endpoint", fake.endpoint, "--poll-interval", "0.01", *args])


def assert_no_secret(capsys, caplog):
    captured = capsys.readouterr()
    assert ACCESS_TOKEN not in captured.out + captured.err + caplog.text
    assert "PRIVATE KEY" not in captured.out + captured.err + caplog.text
    return captured


def test_submit_creates_the_job_with_parameters_labels_account_and_network(vertex_api, vertex_spec, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    code = submit(
        vertex_api,
        vertex_spec,
        "--set",
        "training.epochs=3",
        "--service-account",
        "runner@p.iam.gserviceaccount.com",
        "--network",
        "projects/123/global/networks/vpc",
        "--label",
        "team=nlp",
        "--label",
        "stage=dev",
        "--run-name",
        "first try",
        "--no-cache",
    )
    captured = assert_no_secret(capsys, caplog)
    assert code == 0, captured.err
    [create] = vertex_api.created()
    job_id = create["query"]["pipelineJobId"][0]
    assert job_id.startswith("pqrnn-distill-")
    body = create["body"]
    assert create["headers"]["authorization"].startswith("Bearer ")  # signed with the key file's key
    assert body["displayName"] == "first try"
    assert body["serviceAccount"] == "runner@p.iam.gserviceaccount.com"
    assert body["network"] == "projects/123/global/networks/vpc"
    assert body["labels"]["team"] == "nlp" and body["labels"]["stage"] == "dev"
    assert body["runtimeConfig"]["gcsOutputDirectory"] == "gs://YOUR_BUCKET/pqrnn-distill"
    # Only the parameter --set touches is sent: the other tasks keep their cache.
    values = body["runtimeConfig"]["parameterValues"]
    assert set(values) == {"trainer_config"}
    assert json.loads(values["trainer_config"])["training"]["epochs"] == 3
    spec = yaml.safe_load(vertex_spec.read_text())
    assert body["pipelineSpec"]["components"] == json.loads(json.dumps(spec["components"]))
    assert all(
        not t.get("cachingOptions", {}).get("enableCache")
        for t in body["pipelineSpec"]["root"]["dag"]["tasks"].values()
    )
    assert f"run id: {job_id}\n" in captured.out
    link = f"https://console.cloud.google.com/vertex-ai/locations/us-central1/pipelines/runs/{job_id}?project=p"
    assert f"run:    {link}\n" in captured.out
    assert f"artifacts: gs://YOUR_BUCKET/pqrnn-distill/{PROJECT_NUMBER}/{job_id}/\n" in captured.out


def test_wait_follows_the_job_and_exits_1_when_it_fails(vertex_api, vertex_spec, capsys, caplog):
    vertex_api.job_states = [
        ("RUNNING", {"DatasetGen": "RUNNING"}),
        ("RUNNING", {"DatasetGen": "SUCCEEDED", "Trainer": "RUNNING"}),
        ("FAILED", {"DatasetGen": "SUCCEEDED", "Trainer": "FAILED"}),
    ]
    assert submit(vertex_api, vertex_spec, "--wait") == 1
    out = assert_no_secret(capsys, caplog).out
    assert "RUNNING    0/12 tasks done, running: DatasetGen" in out
    assert "FAILED     1/12 tasks done, failed: Trainer" in out
    assert "error: The DAG failed because some tasks failed: Trainer" in out
    assert out.rstrip().endswith("failed")


def test_wait_retries_a_blip_and_exits_0_when_the_job_succeeds(vertex_api, vertex_spec, capsys, caplog):
    vertex_api.job_states = [("UNAVAILABLE", {}), ("SUCCEEDED", {"DatasetGen": "SUCCEEDED"})]
    assert submit(vertex_api, vertex_spec, "--wait") == 0
    out = assert_no_secret(capsys, caplog).out
    # aiplatform asked again after the 503 (an API blip while following).
    assert sum(1 for r in vertex_api.requests if r["method"] == "GET" and r["path"].startswith(JOBS_BY_NUMBER)) == 3
    assert "SUCCEEDED  1/12 tasks done" in out
    assert out.rstrip().endswith("succeeded")


def test_api_errors_are_one_line_without_the_credential(vertex_api, vertex_spec, capsys, caplog):
    vertex_api.status = 403
    assert submit(vertex_api, vertex_spec, "--service-account", "sa@p.iam.gserviceaccount.com") == 1
    err = assert_no_secret(capsys, caplog).err
    assert err.startswith("submit failed: the Vertex AI API refused the key file ")
    assert "needs roles/aiplatform.user in project p and roles/iam.serviceAccountUser on sa@p" in err
    assert "[redacted]" in err


def test_a_rejected_refresh_token_says_how_to_log_in(vertex_api, vertex_spec, capsys, caplog):
    vertex_api.token_status = 400
    assert submit(vertex_api, vertex_spec) == 1
    err = assert_no_secret(capsys, caplog).err
    assert err.startswith("submit failed: cannot get an access token with the key file ")
    assert "gcloud auth application-default login" in err
    assert not vertex_api.created()


def test_no_application_default_credentials(vertex_spec, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    assert main(["submit", "--vertex", "--spec", str(vertex_spec), "--project", "p", "--region", "r"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("submit failed: no Google Cloud credentials: run `gcloud auth application-default login`")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--region", "r"], "--vertex needs --project PROJECT and --region REGION"),
        (["--project", "p", "--region", "r", "--host", "http://x"], "--host: for Kubeflow Pipelines only"),
        (["--project", "p", "--region", "r", "--label", "Team=x"], "--label 'Team=x': must be KEY=VALUE"),
        (["--project", "p", "--region", "r", "--pipeline-root", "s3://b/r"], "writes artifacts to Cloud Storage"),
        (["--project", "p", "--region", "r", "--set", "kubeflow.cpu_image=x"], "--set kubeflow.cpu_image: fixed"),
    ],
)
def test_usage_errors_exit_2_before_any_request(vertex_api, vertex_spec, capsys, args, expected):
    assert main(["submit", "--vertex", "--spec", str(vertex_spec), *args]) == 2
    assert expected in capsys.readouterr().err
    assert not vertex_api.requests


def test_vertex_only_options_need_vertex(vertex_spec, capsys):
    assert main(["submit", "--spec", str(vertex_spec), "--project", "p", "--label", "a=b"]) == 2
    assert "--project, --label: for Vertex AI Pipelines only; add --vertex" in capsys.readouterr().err


def test_specs_for_kfp_or_kfp_local_are_refused(vertex_api, tmp_path, capsys):
    config = str(REPO / "pipeline.yaml")
    kfp = tmp_path / "kfp.yaml"
    assert main(["compile", "--config", config, "--output", str(kfp)]) == 0
    assert submit(vertex_api, kfp) == 2
    err = capsys.readouterr().err
    assert "was compiled for open-source Kubeflow Pipelines (--target kfp), not for Vertex AI Pipelines" in err
    local = tmp_path / "local.yaml"
    assert (
        main(
            ["compile", "--config", config, "--target", "vertex", "--local-root", str(tmp_path), "--output", str(local)]
        )
        == 0
    )
    assert submit(vertex_api, local) == 2
    assert "was compiled with --local-root" in capsys.readouterr().err
    assert not vertex_api.requests


def test_wait_gives_up_after_the_timeout(vertex_api, vertex_spec, capsys, caplog):
    vertex_api.job_states = [("RUNNING", {"DatasetGen": "RUNNING"})]
    assert submit(vertex_api, vertex_spec, "--wait", "--timeout", "0") == 1
    err = assert_no_secret(capsys, caplog).err
    assert err.startswith("submit failed: run pqrnn-distill-") and "is still RUNNING after 0 s (--timeout)" in err


def test_unreachable_endpoint(vertex_api, vertex_spec, capsys, caplog):
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    endpoint = f"http://127.0.0.1:{closed.server_address[1]}"
    closed.server_close()  # a port nothing listens on
    base = ["submit", "--vertex", "--spec", str(vertex_spec), "--project", "p", "--region", "us-central1"]
    assert main([*base, "--api-endpoint", endpoint]) == 1
    err = assert_no_secret(capsys, caplog).err
    assert err.startswith(f"submit failed: cannot reach the Vertex AI API at {endpoint}: ")
    assert len(err.splitlines()) == 1
