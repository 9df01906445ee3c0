"""infra.bootstrap_settings: the one definition of what a stage's bootstrap grants, which bootstrap, its templates,
the IAM documents and the deploy check all read."""

from __future__ import annotations

import pytest

from infra import bootstrap, bootstrap_template, deploy, iam
from infra.bootstrap_settings import SEARCH_SETTINGS, SETTINGS, Grants, setting
from infra.deploy_template import TemplateOptions, transform
from tests.support.chalice_sam import APP, sample


def test_each_setting_is_a_parameter_of_the_stage_bootstrap_stack_and_a_token_of_infra_iam() -> None:
    stage = bootstrap_template.stage_template(APP, "dev")
    tokens = set().union(*(iam.tokens_of(iam.load_document(role.policy)) for role in iam.roles()))
    for each in SETTINGS:
        assert each.parameter in stage["Parameters"], each
        assert each.token in tokens, each
        assert bootstrap_template.PARAMETER_OF_TOKEN[each.token] == each.parameter


def test_the_optional_settings_are_the_optional_tokens_and_conditions_of_the_template() -> None:
    assert {s.token for s in SEARCH_SETTINGS} == iam.OPTIONAL_TOKENS
    assert not setting("ecr_repository").optional
    conditions = bootstrap_template.stage_template(APP, "dev")["Conditions"]
    assert {f"Has{s.parameter}" for s in SEARCH_SETTINGS} <= set(conditions)


def test_bootstrap_takes_each_setting_as_an_option() -> None:
    argv = ["--stage", "dev", "--templates", "t", "--github-repo", "a/b", "--dvc-bucket", "bucket"]
    with pytest.raises(SystemExit):  # --ecr-repository is required
        bootstrap.main(argv)
    options = {s.option for s in SETTINGS}
    assert options == {
        "--ecr-repository", "--es-secret-name", "--es-basic-auth-secret-name", "--opensearch-domain",
        "--opensearch-collection-id", "--search-region",
    }  # fmt: skip


def test_the_secrets_are_parameters_of_the_same_name_in_the_deploy_template() -> None:
    """infra.bootstrap_match reads the deploy's secret names under the bootstrap stack's parameter names."""
    deploy_parameters = transform(sample(), app_name=APP, stage="dev", options=TemplateOptions())["Parameters"]
    for name in ("es_secret_name", "es_basic_auth_secret_name"):
        assert setting(name).parameter in deploy_parameters
        assert deploy.SEARCH_OPTIONS[setting(name).parameter][0] == setting(name).variable


def test_grants_read_back_from_stack_parameters() -> None:
    grants = Grants(ecr_repository="cola", opensearch_domain="logs", search_region="eu-west-1")
    parameters = {**grants.parameters(), "GitHubRepo": "a/b"}
    assert Grants.from_parameters(parameters) == grants
    assert Grants.from_parameters({"EcrRepository": "cola"}) == Grants(ecr_repository="cola")  # older stacks


def test_a_bad_value_names_its_option() -> None:
    with pytest.raises(bootstrap.BootstrapError, match=r"^--opensearch-domain: "):
        bootstrap.Settings(APP, "dev", "a/b", "bucket", Grants(ecr_repository="cola", opensearch_domain="Logs*"))
