"""The identity secrets: refused when missing or placeholders, read from files, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from libs.config import ConfigError, IdentitySettings
from libs.identity import IdentityContext
from libs.security import PrincipalKind
from services.customer_api.config import CustomerApiSettings
from services.switch_api.config import SwitchApiSettings
from tests.identity.factories import identity_settings, key_spec


@pytest.mark.parametrize("settings_class", [SwitchApiSettings, CustomerApiSettings])
def test_production_refuses_missing_or_placeholder_identity_secrets(
    settings_class: type[SwitchApiSettings] | type[CustomerApiSettings],
) -> None:
    with pytest.raises(ValidationError, match=r"identity\.peppers"):
        settings_class(environment="production")
    with pytest.raises(ValidationError, match=r"identity\.signing_keys"):
        settings_class(
            environment="production",
            identity=identity_settings(signing_keys="changeme"),
        )
    settings_class(environment="production", identity=identity_settings())


def test_secrets_are_read_from_files_and_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = identity_settings()
    for name in ("peppers", "encryption_keys", "signing_keys"):
        path = tmp_path / name
        path.write_text(values[name] + "\n")
        monkeypatch.setenv(f"TANDEM_IDENTITY__{name.upper()}_FILE", str(path))
    settings = SwitchApiSettings(environment="production")
    assert settings.identity.peppers.get_secret_value() == values["peppers"]
    shown = repr(settings) + str(settings.model_dump())
    assert values["peppers"].split(":")[1] not in shown


def test_an_api_will_not_start_without_its_keys() -> None:
    with pytest.raises(ConfigError, match=r"identity\.encryption_keys is not set"):
        IdentityContext.from_settings(
            IdentitySettings(peppers=key_spec(), signing_keys=key_spec()),
            kind=PrincipalKind.OPERATOR,
            service="switch_api",
        )
    with pytest.raises(ConfigError, match="exactly 32 bytes"):
        IdentityContext.from_settings(
            IdentitySettings(**identity_settings(encryption_keys=key_spec("e1", 16))),
            kind=PrincipalKind.OPERATOR,
            service="switch_api",
        )


@pytest.mark.parametrize(
    ("manifest", "settings_class"),
    [("switch-api.yaml", SwitchApiSettings), ("customer-api.yaml", CustomerApiSettings)],
)
def test_the_production_manifests_give_the_apis_every_identity_secret_as_a_file(
    manifest: str, settings_class: type[SwitchApiSettings] | type[CustomerApiSettings]
) -> None:
    import yaml

    from tests.conftest import REPO

    documents = yaml.safe_load_all((REPO / "deploy/k8s/base" / manifest).read_text())
    (workload,) = [d for d in documents if d and d.get("kind") in ("Deployment", "StatefulSet")]
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    for secret in settings_class.required_secrets:
        variable = "TANDEM_" + secret.upper().replace(".", "__") + "_FILE"
        assert env.get(variable, "").startswith("/run/secrets/"), variable
