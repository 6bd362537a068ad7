"""Submit a compiled pipeline spec to Kubeflow Pipelines with `kfp.Client` and follow the run.

Credentials, first found wins: --token-file, --cookie-file, $KF_PIPELINES_TOKEN,
$KF_PIPELINES_COOKIE, the in-cluster service-account token (kfp's projected-volume path),
else none (e.g. a `kubectl port-forward`). Secrets are never printed: messages name the
credential's source only, and what the server answers is shown with the credential and any
Authorization/Cookie header value redacted (a proxy may echo the request's headers).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, TextIO

import kfp
import kfp.client
import kfp_server_api
import urllib3
import yaml
from google.protobuf import json_format
from kfp.client import client as kfp_client
from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials
from kfp.pipeline_spec import pipeline_spec_pb2

from config_core import add_set_argument
from pipeline.config import Config, ConfigError, config_to_json, override_config_json
from pipeline.kubeflow.settings import (
    COMPILE_TIME_KEYS,
    CONFIG_PARAMETERS,
    OBJECT_STORES,
    check_kubeflow_config,
    is_local_spec,
    parameters_reading,
    spec_target,
)

DEFAULT_SPEC = os.path.join("build", "kubeflow", "pipeline.yaml")
TOKEN_ENV = "KF_PIPELINES_TOKEN"
COOKIE_ENV = "KF_PIPELINES_COOKIE"
IN_CLUSTER_HOST = "http://ml-pipeline.kubeflow:8888"
FINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}
MAX_POLL_FAILURES = 5
REDACTED = "[redacted]"
# An Authorization/Cookie header value as a server may echo it: raw header, JSON or Python repr.
_SECRET_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie)(['\"]?\s*[:=]\s*['\"]?)([^'\"\r\n]+)")


class SubmitError(Exception):
    """A problem reported as one message; `exit_code` 2 for usage errors, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------- credentials


@dataclass
class Credential:
    source: str  # what users read in messages, never the secret itself
    token: Optional[str] = None
    cookie: Optional[str] = None
    token_path: Optional[str] = None  # in-cluster token file, re-read by kfp on every request

    def secrets(self) -> List[str]:
        """The strings that must never be shown: the token, the cookie and its values (longest
        first, so that a value inside the whole cookie does not leave the rest of it)."""
        found = {self.token, self.cookie}
        if self.cookie:  # each value of `name=value; name2=value2`, unless too short to be a secret
            found |= {
                value for value in (p.partition("=")[2].strip() for p in self.cookie.split(";")) if len(value) > 3
            }
        if self.token_path:
            try:
                with open(self.token_path, encoding="utf-8") as f:
                    found.add(f.read().strip())
            except (OSError, ValueError):
                pass  # kfp could not have sent it either
        return sorted(filter(None, found), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with this credential and any Authorization/Cookie header value replaced."""
        for secret in self.secrets():
            text = text.replace(secret, REDACTED)
        return _SECRET_HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)


class RedactedOutput:
    """A text stream that redacts a credential from everything written to it."""

    def __init__(self, stream: TextIO, credential: Credential):
        self._stream, self._credential = stream, credential

    def write(self, text: str) -> int:
        return self._stream.write(self._credential.redact(text))

    def flush(self) -> None:
        self._stream.flush()


def _read_secret(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            secret = f.read().strip()
    except OSError as exc:
        raise SubmitError(f"cannot read the {what} file {path}: {exc.strerror}", 2) from None
    if not secret:
        raise SubmitError(f"the {what} file {path} is empty", 2)
    return secret


def find_credential(token_file: Optional[str], cookie_file: Optional[str], env: Dict[str, str]) -> Credential:
    """The credential to use, by the precedence in the module docstring."""
    if token_file:
        return Credential(f"bearer token from --token-file {token_file}", token=_read_secret(token_file, "token"))
    if cookie_file:
        return Credential(
            f"session cookie from --cookie-file {cookie_file}", cookie=_read_secret(cookie_file, "cookie")
        )
    if env.get(TOKEN_ENV, "").strip():
        return Credential(f"bearer token from ${TOKEN_ENV}", token=env[TOKEN_ENV].strip())
    if env.get(COOKIE_ENV, "").strip():
        return Credential(f"session cookie from ${COOKIE_ENV}", cookie=env[COOKIE_ENV].strip())
    sa_path = env.get(kfp.client.KF_PIPELINES_SA_TOKEN_ENV) or kfp.client.KF_PIPELINES_SA_TOKEN_PATH
    if os.path.isfile(sa_path):
        return Credential(f"in-cluster service-account token {sa_path}", token_path=sa_path)
    return Credential("no credentials")


# --------------------------------------------------------------------------- spec and parameters


def load_spec(path: str, compile_command: str = "python -m pipeline compile") -> Dict[str, Any]:
    """The compiled spec as a dict, checked the way kfp parses it."""
    if not os.path.isfile(path):
        raise SubmitError(f"pipeline spec not found: {path} (compile it: {compile_command} --output {path})", 2)
    if not path.endswith((".yaml", ".yml")):
        raise SubmitError(f"pipeline spec {path} must be a .yaml/.yml file (as written by {compile_command})", 2)
    try:
        with open(path, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    except UnicodeDecodeError as exc:
        raise SubmitError(
            f"{path} is not a valid KFP v2 pipeline spec: not UTF-8 text ({exc.reason} at byte {exc.start})", 2
        ) from None
    except (yaml.YAMLError, json_format.ParseError, AttributeError, TypeError) as exc:
        raise SubmitError(f"{path} is not a valid KFP v2 pipeline spec: {str(exc).splitlines()[0]}", 2) from None
    if not isinstance(spec, dict) or not spec.get("root") or not spec.get("pipelineInfo", {}).get("name"):
        raise SubmitError(f"{path} is not a KFP v2 pipeline spec (no pipelineInfo.name or root DAG)", 2)
    return spec


def _parse_value(text: str, parameter_type: str, name: str) -> Any:
    try:
        if parameter_type == "NUMBER_INTEGER":
            return int(text)
        if parameter_type == "NUMBER_DOUBLE":
            return float(text)
        if parameter_type == "BOOLEAN":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if parameter_type in ("LIST", "STRUCT"):
            return json.loads(text)
    except ValueError:
        raise SubmitError(f"--param {name}: {text!r} is not a {parameter_type.lower()}", 2) from None
    return text


def run_parameters(spec: Dict[str, Any], params: Sequence[str], overrides: Sequence[str]) -> Dict[str, Any]:
    """`--param k=v` checked against the spec's parameters, plus each `--set` applied to every
    config parameter whose sections hold its key (to its `--param` value, else its default).
    Parameters no override touches are left out, so their tasks keep their cache."""
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values: Dict[str, Any] = {}
    for item in params:
        name, sep, text = item.partition("=")
        if not sep:
            raise SubmitError(f"--param {item!r} must look like NAME=VALUE", 2)
        if name not in declared:
            raise SubmitError(
                f"--param {name}: the pipeline has no such parameter (it has: {', '.join(sorted(declared))})", 2
            )
        values[name] = _parse_value(text, declared[name].get("parameterType", "STRING"), name)
    routed: Dict[str, List[str]] = {}
    for override in overrides:
        key = override.partition("=")[0].strip()
        if any(key == k or key.startswith(k + ".") for k in COMPILE_TIME_KEYS):
            raise SubmitError(
                f"--set {key}: fixed when the pipeline was compiled; "
                f"recompile: python -m pipeline compile --set {override}",
                2,
            )
        try:
            override_config_json(config_to_json(Config()), [override])  # names and types, with key paths
        except ConfigError as exc:
            raise SubmitError(f"config error: {exc}", 2) from None
        names = parameters_reading(key, declared)
        if not names:
            carried = {s.split(".")[0] for name, types in CONFIG_PARAMETERS.values() if name in declared for s in types}
            carried_text = ", ".join(sorted(carried))
            raise SubmitError(
                f"--set {key}: no task of this pipeline reads it (its parameters carry: {carried_text})", 2
            )
        for name in names:
            routed.setdefault(name, []).append(override)
    section_types = dict(CONFIG_PARAMETERS.values())
    for name, own in routed.items():
        try:
            config = override_config_json(values.get(name, declared[name].get("defaultValue")), own)
            check_kubeflow_config(config)
        except ConfigError as exc:
            raise SubmitError(f"config error: {exc}", 2) from None
        except ValueError as exc:
            raise SubmitError(f"--param {name}: not the JSON of config sections ({exc})", 2) from None
        values[name] = config_to_json(config, list(section_types[name]))
    return values


# --------------------------------------------------------------------------- connecting


def _describe_http_error(host: str, credential: Credential, status: int, reason: str) -> str:
    if status in (401, 403) and not (credential.token or credential.cookie or credential.token_path):
        return (
            f"the KFP API at {host} answered {status} {reason} to a request without credentials; "
            f"pass --token-file F, ${TOKEN_ENV} or a session cookie (${COOKIE_ENV})"
        )
    if status in (401, 403):
        verb = "rejected" if status == 401 else "refused access with"
        return (
            f"the KFP API at {host} {verb} the {credential.source} ({status} {reason}); "
            "check that it is current and allowed in this namespace"
        )
    return f"the KFP API at {host} answered {status} {reason}"


def _api_configuration(host: str, credential: Credential) -> kfp_server_api.Configuration:
    configuration = kfp_server_api.Configuration(host=host)
    if credential.token:
        configuration.api_key["authorization"] = credential.token
        configuration.api_key_prefix["authorization"] = "Bearer"
    elif credential.token_path:
        ServiceAccountTokenVolumeCredentials(credential.token_path).refresh_api_key_hook(configuration)
        configuration.api_key_prefix["authorization"] = "Bearer"
    return configuration


def check_connection(host: str, credential: Credential, timeout_s: float) -> None:
    """One healthz request, so that a wrong host or credential fails at once with a clear
    message (kfp.Client retries healthz for ~25 s and then reports a generic error)."""
    api = kfp_server_api.HealthzServiceApi(
        kfp_server_api.ApiClient(_api_configuration(host, credential), cookie=credential.cookie)
    )
    try:
        response = api.get_healthz(_preload_content=False, _request_timeout=timeout_s)
    except kfp_server_api.ApiException as exc:
        if exc.status == 0:  # TLS failure
            raise SubmitError(f"cannot reach the KFP API at {host}: {exc.reason.splitlines()[0]}") from None
        if exc.status == 404:
            raise SubmitError(
                f"{host} has no KFP API (404 for /apis/v2beta1/healthz); use the pipelines endpoint, e.g. https://HOST/pipeline"
            ) from None
        raise SubmitError(_describe_http_error(host, credential, exc.status, exc.reason)) from None
    except urllib3.exceptions.HTTPError as exc:
        reason = re.sub(r"^<[^>]*>: ", "", str(getattr(exc, "reason", None) or exc))  # drop urllib3's object repr
        raise SubmitError(f"cannot reach the KFP API at {host}: {reason}") from None
    try:
        json.loads(response.data)
    except ValueError:
        # Kubeflow's auth proxy answers unauthenticated API calls with its login page.
        raise SubmitError(
            f"{host} answered with a web page, not the KFP API (a login page?) using {credential.source}; "
            f"pass --token-file, ${TOKEN_ENV} or a session cookie ({COOKIE_ENV}=authservice_session=...)"
        ) from None


def make_client(host: str, credential: Credential, namespace: Optional[str]) -> kfp.Client:
    kwargs: Dict[str, Any] = {"host": host}
    if namespace:
        kwargs["namespace"] = namespace
    if credential.token:
        kwargs["existing_token"] = credential.token
    elif credential.cookie:
        kwargs["cookies"] = credential.cookie
    elif credential.token_path:
        kwargs["credentials"] = ServiceAccountTokenVolumeCredentials(credential.token_path)
    return kfp.Client(**kwargs)


# --------------------------------------------------------------------------- following


def format_progress(tasks: Dict[str, str], task_names: List[str]) -> str:
    """'3/12 tasks done, running: A, failed: B' from each task's state by name."""
    done = sum(1 for name in task_names if tasks.get(name) in ("SUCCEEDED", "SKIPPED"))
    running = [name for name in task_names if tasks.get(name) == "RUNNING"]
    failed = [name for name in task_names if tasks.get(name) == "FAILED"]
    text = f"{done}/{len(task_names)} tasks done"
    if running:
        text += f", running: {', '.join(running)}"
    if failed:
        text += f", failed: {', '.join(failed)}"
    return text


def _task_progress(run: Any, task_names: List[str]) -> str:
    details = run.run_details.task_details if run.run_details else None
    return format_progress({t.display_name: t.state for t in details or []}, task_names)


def follow_run(
    client: kfp.Client, run_id: str, task_names: List[str], poll_s: float, timeout_s: Optional[float], out: TextIO
) -> str:
    """Print a line whenever the run's state or task progress changes; return the final state."""
    started = time.monotonic()
    last = None
    failures = 0
    while True:
        try:
            run = client.get_run(run_id)
            failures = 0
        except (urllib3.exceptions.HTTPError, kfp_server_api.ApiException) as exc:
            # A long run outlives API restarts and network blips; only give up on a streak.
            status = getattr(exc, "status", None)
            if failures >= MAX_POLL_FAILURES or (status is not None and status < 500):
                raise
            failures += 1
            print(f"(status check failed, retrying: {status or exc})", file=out, flush=True)
            time.sleep(poll_s)
            continue
        state = str(run.state or "PENDING")
        line = f"{state:<10} {_task_progress(run, task_names)}"
        if line != last:
            elapsed = datetime.timedelta(seconds=int(time.monotonic() - started))
            print(f"[{elapsed}] {line}", file=out, flush=True)
            last = line
        if state in FINAL_STATES:
            if run.error and run.error.message:
                print(f"error: {run.error.message}", file=out)
            return state
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise SubmitError(f"run {run_id} is still {state} after {timeout_s:.0f} s (--timeout); it keeps running")
        time.sleep(poll_s)


# --------------------------------------------------------------------------- CLI


def add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", default=DEFAULT_SPEC, help=f"compiled pipeline spec (default {DEFAULT_SPEC})")
    parser.add_argument(
        "--host", help="KFP API endpoint, e.g. https://kubeflow.example.com/pipeline (or $KF_PIPELINES_ENDPOINT)"
    )
    parser.add_argument("--experiment", help="experiment name, created if missing (default: the pipeline name)")
    parser.add_argument("--run-name", help="run name (default: pipeline name + time)")
    parser.add_argument("--namespace", help="Kubeflow profile namespace (multi-user clusters)")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="pipeline parameter (repeatable)"
    )
    add_set_argument(parser, "override a config key for this run only, e.g. --set training.epochs=3 (repeatable)")
    parser.add_argument(
        "--pipeline-root", help="gs:// or s3:// root for this run's artifacts (default: the compiled one)"
    )
    parser.add_argument("--no-cache", action="store_true", help="run every step, ignoring cached results")
    parser.add_argument("--wait", action="store_true", help="follow the run until it ends; exit 1 unless it succeeds")
    parser.add_argument("--timeout", type=float, help="with --wait: give up following after this many seconds")
    parser.add_argument("--poll-interval", type=float, default=10.0, help="with --wait: seconds between status checks")
    parser.add_argument("--connect-timeout", type=float, default=15.0, help="seconds to wait for the API to answer")
    parser.add_argument("--token-file", help=f"file holding a bearer token (or ${TOKEN_ENV})")
    parser.add_argument(
        "--cookie-file", help=f"file holding a session cookie, e.g. authservice_session=... (or ${COOKIE_ENV})"
    )


def load_submittable_spec(path: str, target: str) -> Dict[str, Any]:
    """`load_spec`, refusing a spec compiled with --local-root or for the other target."""
    spec = load_spec(path, f"python -m pipeline compile --target {target}")
    if is_local_spec(spec):
        raise SubmitError(
            f"{path} was compiled with --local-root (pipeline root {spec.get('defaultPipelineRoot')!r}) for "
            "python -m pipeline kfp-local; its tasks name this machine's files. Compile without --local-root to submit",
            2,
        )
    compiled_for = spec_target(spec)
    if compiled_for != target:
        names = {"kfp": "open-source Kubeflow Pipelines", "vertex": "Vertex AI Pipelines"}
        how = "submit it with --vertex" if compiled_for == "vertex" else "submit it without --vertex"
        raise SubmitError(
            f"{path} was compiled for {names[compiled_for]} (--target {compiled_for}), not for {names[target]}; "
            f"recompile with python -m pipeline compile --target {target}, or {how}",
            2,
        )
    return spec


def submit(args: argparse.Namespace, env: Optional[Dict[str, str]] = None, out: Optional[TextIO] = None) -> int:
    """Submit (and with --wait follow) one run; returns the exit code."""
    env = dict(os.environ) if env is None else env
    spec = load_submittable_spec(args.spec, "kfp")
    arguments = run_parameters(spec, args.param, args.overrides)
    if args.pipeline_root and not args.pipeline_root.startswith(OBJECT_STORES):
        raise SubmitError(f"--pipeline-root {args.pipeline_root!r}: must be a gs:// or s3:// URI", 2)
    host = args.host or env.get(kfp_client.KF_PIPELINES_ENDPOINT_ENV)
    if not host:
        if not env.get("KUBERNETES_SERVICE_HOST"):
            raise SubmitError(f"no KFP endpoint: pass --host URL or set {kfp_client.KF_PIPELINES_ENDPOINT_ENV}", 2)
        host = IN_CLUSTER_HOST  # inside a cluster pod, e.g. a Kubeflow notebook
    credential = find_credential(args.token_file, args.cookie_file, env)
    try:
        return _submit(
            args, spec, arguments, host.rstrip("/"), credential, env, RedactedOutput(out or sys.stdout, credential)
        )
    except SubmitError as exc:
        raise SubmitError(credential.redact(str(exc)), exc.exit_code) from None


def _submit(
    args: argparse.Namespace,
    spec: Dict[str, Any],
    arguments: Dict[str, Any],
    host: str,
    credential: Credential,
    env: Dict[str, str],
    out: TextIO,
) -> int:
    check_connection(host, credential, args.connect_timeout)

    pipeline_name = spec["pipelineInfo"]["name"]
    client = make_client(host, credential, args.namespace)
    try:
        result = client.create_run_from_pipeline_package(
            args.spec,
            arguments=arguments,
            run_name=args.run_name or f"{pipeline_name} {datetime.datetime.now():%Y-%m-%d %H:%M:%S}",
            experiment_name=args.experiment or pipeline_name,
            namespace=args.namespace,
            pipeline_root=args.pipeline_root,
            enable_caching=False if args.no_cache else None,
        )
    except kfp_server_api.ApiException as exc:
        raise SubmitError(
            f"{_describe_http_error(host, credential, exc.status, exc.reason)}: {exc.body or ''}".rstrip(": ")
        ) from None
    except urllib3.exceptions.HTTPError as exc:
        raise SubmitError(f"lost the KFP API at {host} while submitting: {exc}") from None
    ui = env.get(kfp_client.KF_PIPELINES_UI_ENDPOINT_ENV, host).rstrip("/")
    root = args.pipeline_root or spec.get("defaultPipelineRoot", "")
    print(f"run id: {result.run_id}", file=out)
    print(f"run:    {ui}/#/runs/details/{result.run_id}", file=out)
    print(f"artifacts: {root}/{pipeline_name}/{result.run_id}/", file=out, flush=True)
    if not args.wait:
        return 0
    task_names = sorted(spec["root"]["dag"]["tasks"])
    try:
        state = follow_run(client, result.run_id, task_names, args.poll_interval, args.timeout, out)
    except kfp_server_api.ApiException as exc:
        raise SubmitError(
            f"following run {result.run_id}: {_describe_http_error(host, credential, exc.status, exc.reason)}"
        ) from None
    except urllib3.exceptions.HTTPError as exc:
        raise SubmitError(f"following run {result.run_id}: lost the KFP API at {host}: {exc}") from None
    print(f"run {result.run_id} {state.lower()}", file=out)
    return 0 if state == "SUCCEEDED" else 1
