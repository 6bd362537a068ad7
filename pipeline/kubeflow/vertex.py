"""`python -m pipeline submit --vertex`: submit a spec compiled with `--target vertex` to Vertex AI
Pipelines with `google.cloud.aiplatform.PipelineJob` and follow the run.

Credentials are Application Default Credentials (`gcloud auth application-default login`, or a
service account key file named by $GOOGLE_APPLICATION_CREDENTIALS, or the metadata server on
Google Cloud). Run parameters, `--set` routing, the run link, `--wait` and the exit codes are those
of the KFP path (`submit`); secrets are redacted the same way.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO

from pipeline.kubeflow.submit import (
    Credential,
    RedactedOutput,
    SubmitError,
    format_progress,
    load_submittable_spec,
    run_parameters,
    submit,
)

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
FINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELLED"}
KFP_ONLY = ("host", "experiment", "namespace", "token_file", "cookie_file")
VERTEX_ONLY = ("project", "region", "service_account", "network", "api_endpoint")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_ADC_HINT = (
    "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
)


class GoogleCredential(Credential):
    """A `Credential` over google-auth credentials: its access token (fetched lazily), refresh
    token and client secret are the secrets to redact."""

    def __init__(self, source: str, credentials: Any):
        super().__init__(source)
        self.credentials = credentials

    def secrets(self) -> List[str]:
        found = {getattr(self.credentials, name, None) for name in ("token", "refresh_token", "client_secret")}
        return sorted((s for s in found if isinstance(s, str) and s), key=len, reverse=True)


def add_vertex_arguments(parser: argparse.ArgumentParser) -> None:
    vertex = parser.add_argument_group("Vertex AI Pipelines (with --vertex)")
    vertex.add_argument("--vertex", action="store_true", help="submit to Vertex AI Pipelines instead of KFP")
    vertex.add_argument("--project", help="Google Cloud project of the run")
    vertex.add_argument("--region", help="Vertex AI region, e.g. us-central1")
    vertex.add_argument("--service-account", help="service account the run's tasks act as (default: Compute's)")
    vertex.add_argument("--network", help="VPC to peer with, e.g. projects/123/global/networks/my-vpc")
    vertex.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="label of the run (repeatable)"
    )
    vertex.add_argument("--api-endpoint", help="Vertex AI API endpoint (default: REGION-aiplatform.googleapis.com)")


def parse_labels(items: Sequence[str]) -> Dict[str, str]:
    """`--label k=v` as Google Cloud labels (lowercase keys and values), checked."""
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise SubmitError(
                f"--label {item!r}: must be KEY=VALUE, the key a lowercase letter then up to 62 of [a-z0-9_-], "
                "the value up to 63 of [a-z0-9_-]",
                2,
            )
        labels[key] = value
    return labels


def _check_options(args: argparse.Namespace) -> None:
    given = [name for name in KFP_ONLY if getattr(args, name, None)]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise SubmitError(f"{flags}: for Kubeflow Pipelines only, not with --vertex", 2)
    if not args.project or not args.region:
        raise SubmitError("--vertex needs --project PROJECT and --region REGION (e.g. us-central1)", 2)


def _default_credentials() -> GoogleCredential:
    import google.auth
    import google.auth.transport.requests
    from google.auth import exceptions as auth_exceptions

    try:
        credentials, _ = google.auth.default(scopes=SCOPES)
    except auth_exceptions.DefaultCredentialsError as exc:
        raise SubmitError(f"no Google Cloud credentials: {_ADC_HINT} ({str(exc).splitlines()[0]})", 2) from None
    key_file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    source = f"key file {key_file} (GOOGLE_APPLICATION_CREDENTIALS)" if key_file else "application default credentials"
    credential = GoogleCredential(source, credentials)
    # An access token now, so that an expired login or revoked key fails here, in one message.
    try:
        credentials.refresh(google.auth.transport.requests.Request())
    except auth_exceptions.GoogleAuthError as exc:
        raise SubmitError(
            credential.redact(f"cannot get an access token with the {source}: {exc}; {_ADC_HINT}")
        ) from None
    return credential


def _describe_api_error(exc: Exception, args: argparse.Namespace, credential: Credential) -> str:
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    if isinstance(exc, auth_exceptions.RefreshError):
        return f"cannot get an access token with the {credential.source}: {exc}; {_ADC_HINT}"
    if isinstance(exc, auth_exceptions.GoogleAuthError):
        return f"the {credential.source} failed: {exc}; {_ADC_HINT}"
    # The server's message last: a redacted header in it hides the rest of the line.
    if isinstance(exc, (api_exceptions.Unauthenticated, api_exceptions.Unauthorized)):
        return f"the Vertex AI API rejected the {credential.source} (401); {_ADC_HINT}: {exc.message}"
    if isinstance(exc, (api_exceptions.PermissionDenied, api_exceptions.Forbidden)):
        account = f" and roles/iam.serviceAccountUser on {args.service_account}" if args.service_account else ""
        return (
            f"the Vertex AI API refused the {credential.source} (403); it needs roles/aiplatform.user in project "
            f"{args.project}{account}: {exc.message}"
        )
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return f"the Vertex AI API answered {exc.code} {exc.message}"
    if isinstance(exc, api_exceptions.RetryError):
        return f"the Vertex AI API did not answer in time: {exc.message}"
    endpoint = args.api_endpoint or f"{args.region}-aiplatform.googleapis.com"
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"cannot reach the Vertex AI API at {endpoint}: {reason}"


def follow_job(job: Any, task_names: List[str], poll_s: float, timeout_s: Optional[float], out: TextIO) -> str:
    """Print a line whenever the job's state or task progress changes; return the final state."""
    started = time.monotonic()
    last = None
    while True:
        # aiplatform retries a GET the API answers with 503 (an API blip during a long run).
        tasks = {t.task_name: t.state.name for t in job.task_details}
        state = job.state.name.replace("PIPELINE_STATE_", "")
        line = f"{state:<10} {format_progress(tasks, task_names)}"
        if line != last:
            elapsed = datetime.timedelta(seconds=int(time.monotonic() - started))
            print(f"[{elapsed}] {line}", file=out, flush=True)
            last = line
        if state in FINAL_STATES:
            error = job.gca_resource.error
            if error and error.message:
                print(f"error: {error.message}", file=out)
            return state
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise SubmitError(
                f"run {job.job_id} is still {state} after {timeout_s:.0f} s (--timeout); it keeps running"
            )
        time.sleep(poll_s)


def submit_vertex(args: argparse.Namespace, out: Optional[TextIO] = None) -> int:
    """Submit (and with --wait follow) one Vertex AI pipeline run; returns the exit code."""
    _check_options(args)
    spec = load_submittable_spec(args.spec, "vertex")
    arguments = run_parameters(spec, args.param, args.overrides)
    labels = parse_labels(args.label)
    root = args.pipeline_root or spec.get("defaultPipelineRoot", "")
    if not root.startswith("gs://"):
        what = "--pipeline-root" if args.pipeline_root else "the compiled pipeline root (kubeflow.pipeline_root)"
        raise SubmitError(f"{what} {root!r}: Vertex AI Pipelines writes artifacts to Cloud Storage, use gs://", 2)
    credential = _default_credentials()
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions
    from requests import exceptions as requests_exceptions

    try:
        return _submit(args, spec, arguments, labels, root, credential, RedactedOutput(out or sys.stdout, credential))
    except SubmitError as exc:
        raise SubmitError(credential.redact(str(exc)), exc.exit_code) from None
    except (
        api_exceptions.GoogleAPIError,
        auth_exceptions.GoogleAuthError,
        requests_exceptions.RequestException,
    ) as exc:  # API, auth and transport errors: one redacted message
        raise SubmitError(credential.redact(_describe_api_error(exc, args, credential))) from None


def _submit(
    args: argparse.Namespace,
    spec: Dict[str, Any],
    arguments: Dict[str, Any],
    labels: Dict[str, str],
    root: str,
    credential: GoogleCredential,
    out: TextIO,
) -> int:
    from google.cloud import aiplatform

    pipeline_name = spec["pipelineInfo"]["name"]
    now = datetime.datetime.now()
    aiplatform.init(
        project=args.project,
        location=args.region,
        credentials=credential.credentials,
        api_endpoint=args.api_endpoint,
        api_transport="rest",
    )
    job = aiplatform.PipelineJob(
        display_name=args.run_name or f"{pipeline_name} {now:%Y-%m-%d %H:%M:%S}",
        template_path=args.spec,
        job_id=f"{re.sub(r'[^a-z0-9-]', '-', pipeline_name.lower())}-{now:%Y%m%d%H%M%S}",
        pipeline_root=root,
        parameter_values=arguments,
        enable_caching=False if args.no_cache else None,
        labels=labels or None,
        project=args.project,
        location=args.region,
        credentials=credential.credentials,
    )
    job.submit(service_account=args.service_account, network=args.network)
    run_id = job.job_id
    print(f"run id: {run_id}", file=out)
    print(
        f"run:    https://console.cloud.google.com/vertex-ai/locations/{args.region}/pipelines/runs/{run_id}"
        f"?project={args.project}",
        file=out,
    )
    # Vertex lays a run's artifacts out under the project's number, which names the created job.
    project_number = job.resource_name.split("/")[1]
    print(f"artifacts: {root}/{project_number}/{run_id}/", file=out, flush=True)
    if not args.wait:
        return 0
    state = follow_job(job, sorted(spec["root"]["dag"]["tasks"]), args.poll_interval, args.timeout, out)
    print(f"run {run_id} {state.lower()}", file=out)
    return 0 if state == "SUCCEEDED" else 1


def check_kfp_options(args: argparse.Namespace) -> None:
    """Refuse Vertex-only options on the KFP path."""
    given = [name for name in VERTEX_ONLY if getattr(args, name, None)] + (["label"] if args.label else [])
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise SubmitError(f"{flags}: for Vertex AI Pipelines only; add --vertex", 2)


def main_submit_command(args: argparse.Namespace) -> int:
    """`submit` for the CLI, to Vertex AI with --vertex, else to KFP: any SubmitError becomes one
    line on stderr and its exit code."""
    try:
        if args.vertex:
            return submit_vertex(args)
        check_kfp_options(args)
        return submit(args)
    except SubmitError as exc:
        print(f"submit failed: {exc}", file=sys.stderr)
        return exc.exit_code
