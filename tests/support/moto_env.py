"""A moto server shared by a test module, and the environment one test runs the project's commands in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.moto_server import REGION, MotoServer, dummy_aws_env, moto_server


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
