"""The resources a stage's bootstrap stack lets its roles reach: one typed definition `make bootstrap` sets and
`make deploy` checks against (infra.bootstrap_match).

Each field of Grants is one setting: a parameter of the stage's bootstrap stack (what DescribeStacks returns), the
<TOKEN> of the infra/iam documents it fills, and the `make bootstrap` variable that sets it. The shipper's search
settings are optional (empty: the role reaches no such resource, and the statement that would name it is left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One bootstrap setting: its Grants field, stack parameter, infra/iam token and make variable."""

    name: str
    parameter: str
    token: str
    variable: str
    optional: bool

    @property
    def option(self) -> str:
        """The option of infra.bootstrap that takes it (--es-secret-name)."""
        return "--" + self.token.lower().replace("_", "-")


def _setting(parameter: str, token: str, *, variable: str = "", optional: bool = True) -> Any:
    return field(default="", metadata={"setting": (parameter, token, variable or token, optional)})


@dataclass(frozen=True)
class Grants:
    """What the stage's roles were granted at bootstrap (empty: nothing of that kind)."""

    ecr_repository: str = _setting("EcrRepository", "ECR_REPOSITORY", variable="REPOSITORY", optional=False)
    """The repository the deploy and CloudFormation roles may read images from (and dev's GitHub role push to)."""
    es_secret_name: str = _setting("EsSecretName", "ES_SECRET_NAME")
    """The Secrets Manager secret holding the Elasticsearch API key the shipper may read."""
    es_basic_auth_secret_name: str = _setting("EsBasicAuthSecretName", "ES_BASIC_AUTH_SECRET_NAME")
    """The secret holding the OpenSearch basic auth user the shipper may read."""
    opensearch_domain: str = _setting("OpenSearchDomain", "OPENSEARCH_DOMAIN")
    """The Amazon OpenSearch Service domain the shipper may POST to with SigV4 (es:ESHttpPost)."""
    opensearch_collection_id: str = _setting("OpenSearchCollectionId", "OPENSEARCH_COLLECTION_ID")
    """The OpenSearch Serverless collection the shipper may write to with SigV4 (aoss:APIAccessAll)."""
    search_region: str = _setting("SearchRegion", "SEARCH_REGION")
    """The domain's or collection's region (empty: the bootstrap stack's own)."""

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, str]) -> Grants:
        """The grants of a bootstrap stack's parameters (DescribeStacks); a missing parameter grants nothing."""
        return cls(**{s.name: parameters.get(s.parameter, "") for s in SETTINGS})

    def parameters(self) -> dict[str, str]:
        """The stack parameters that give these grants."""
        return {s.parameter: getattr(self, s.name) for s in SETTINGS}


SETTINGS: tuple[Setting, ...] = tuple(Setting(f.name, *f.metadata["setting"]) for f in fields(Grants))
SEARCH_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.optional)
"""The shipper's search settings: each may be empty."""


def setting(name: str) -> Setting:
    """The Setting of a Grants field."""
    (found,) = [s for s in SETTINGS if s.name == name]
    return found
