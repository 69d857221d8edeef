"""Development secrets for the embedded platform: generated once, kept in the data folder.

``tandem up`` needs a password pepper, a TOTP encryption key and a token signing key without
asking anyone for them. They are generated the first time into ``<data-dir>/secrets/`` (folder
0700, files 0600), reused on every later start (a new pepper would lock every account out), and
handed to the login-bearing APIs as ``TANDEM_IDENTITY__*_FILE`` variables, so their values
never appear in a process's environment, command line or log. Production mounts its own
secret files the same way (Kubernetes secrets) and never uses these.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

__all__ = ["SECRET_NAMES", "ensure_dev_secrets", "secret_file_env"]

#: Setting name (under ``identity.``) → key id of the generated key.
SECRET_NAMES = {"peppers": "dev1", "encryption_keys": "dev1", "signing_keys": "dev1"}


def ensure_dev_secrets(data_dir: Path) -> dict[str, Path]:
    """The secret files under ``data_dir/secrets``, creating any that is missing.

    Returns ``{setting name: path}``. Existing files are never rewritten.
    """
    folder = data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    paths: dict[str, Path] = {}
    for name, key_id in SECRET_NAMES.items():
        path = folder / name
        if not path.exists():
            spec = f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode('ascii')}\n"
            # O_EXCL: two starts racing cannot both write (and disagree on) the key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w", encoding="ascii") as file:
                    file.write(spec)
        path.chmod(0o600)
        paths[name] = path.resolve()
    return paths


def secret_file_env(paths: dict[str, Path]) -> dict[str, str]:
    """``TANDEM_IDENTITY__<NAME>_FILE`` variables naming the files."""
    return {f"TANDEM_IDENTITY__{name.upper()}_FILE": str(path) for name, path in paths.items()}
