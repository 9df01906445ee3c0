"""A moto server shared by a test module, the environment one test runs the project's commands in, and the
bootstrap stacks a deploy needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.moto_server import REGION, MotoServer, dummy_aws_env, moto_server
from infra import bootstrap, bootstrap_template, chalice_names, deploy
from infra.bootstrap import Result
from infra.bootstrap_settings import Grants

GITHUB_REPO = "acme/cola"
DVC_BUCKET = "acme-cola-dvc"


def module_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Body of a module-scoped fixture: one moto server, with a home where no AWS config exists."""
    home = tmp_path_factory.mktemp("moto")
    with moto_server(home, dummy_aws_env(home)) as server:
        yield server


@dataclass
class MotoEnv:
    """The server, the environment variables commands run with (its credentials included) and a scratch folder."""

    server: MotoServer
    vars: dict[str, str]
    tmp: Path

    def client(self, service: str) -> Any:
        """A boto3 client of the server with the same credentials the commands get."""
        return boto3.client(
            service,
            endpoint_url=self.server.endpoint,
            region_name=REGION,
            aws_access_key_id=self.vars["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.vars["AWS_SECRET_ACCESS_KEY"],
        )


def bootstrap_stage(env: MotoEnv, stage: str, grants: Grants) -> Result:
    """The account's and the stage's bootstrap stacks in moto, created or updated by infra.bootstrap as `make
    bootstrap` runs it (templates from infra.bootstrap_template; GitHub repository and DVC bucket fixed)."""
    app = chalice_names.stage_names(stage).app_name
    templates = env.tmp / f"bootstrap-{stage}"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "shared.json").write_text(json.dumps(bootstrap_template.shared_template(app)))
    (templates / f"stage-{stage}.json").write_text(json.dumps(bootstrap_template.stage_template(app, stage)))
    settings = bootstrap.Settings(app, stage, GITHUB_REPO, DVC_BUCKET, grants)
    deployer = deploy.Deployer(
        env.client("cloudformation"), log=lambda _: None, poll_s=0.1, capabilities=bootstrap.CAPABILITIES
    )
    return bootstrap.bootstrap(settings, templates, deployer, env.client("iam"))
